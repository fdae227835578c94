"""Headless Chromium (Debian's package) driven by Playwright, against a live stack:
the real gateway under uvicorn, a real worker subprocess, Redis and SQLite."""

from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser.dashboard import ADMIN_TOKEN, CHROMIUM, LAUNCH_ARGS, Dashboard
from tests.fixtures.gateway import sqlite_url
from tests.fixtures.redis_dbs import RedisDb, fresh_redis_db
from tests.fixtures.stack import LiveStack

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    report = getattr(request.node, "rep_call", None)
    return bool(report and report.failed)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per module; tests get fresh contexts. Module scope, because
    Playwright's sync API keeps an event loop running on the main thread until it
    stops, and later tests (asyncio.run, pytest-asyncio) need that thread free."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium "
            "(apt-get install -y chromium) to run the browser tests"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def start_stack(tmp: Path, redis_url: str, **env: str) -> LiveStack:
    # Playwright's sync API keeps an event loop running on this thread, and the
    # stack's migration step calls asyncio.run(): start the stack on another one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(
            LiveStack, sqlite_url(tmp), redis_url, tmp, workers=1, migrate=True, **env
        ).result()


@pytest.fixture
def stack(
    tmp_path: Path, redis_url: str, request: pytest.FixtureRequest
) -> Iterator[LiveStack]:
    """Local mode, auth off (as `esper up`): the page acts as an operator."""
    live = start_stack(tmp_path, redis_url)
    yield live
    if _failed(request):
        print(live.logs()[-20000:])
    live.stop()


@pytest.fixture
def auth_stack(
    tmp_path: Path, redis_url: str, request: pytest.FixtureRequest
) -> Iterator[LiveStack]:
    """Auth on, with a known first admin token."""
    live = start_stack(
        tmp_path, redis_url, ESPER_AUTH="on", ESPER_ADMIN_TOKEN=ADMIN_TOKEN
    )
    yield live
    if _failed(request):
        print(live.logs()[-20000:])
    live.stop()


@pytest.fixture(scope="package")
def research_redis_url(redis_server_url: str) -> Iterator[str]:
    """The research stack's database, flushed before and after it: package
    scoped as `live` is."""
    yield from fresh_redis_db(redis_server_url, RedisDb.MODULE)


@pytest.fixture(scope="package")
def live(
    tmp_path_factory: pytest.TempPathFactory, research_redis_url: str
) -> Iterator[tuple[LiveStack, dict[str, dict[str, Any]]]]:
    """One stack for test_research.py and test_research_architecture.py (package
    scope, so the two modules start one; browser tests run last and those two
    last of them): research_stack.py's runs. Stopped however the setup ends: a
    stack left running would claim the next module's runs from the same Redis
    database."""
    # Imported here: research_stack.py imports this module's ROOT and SCREENSHOTS.
    from tests.e2e.browser.research_stack import submit_research_runs

    stack = start_stack(tmp_path_factory.mktemp("research"), research_redis_url)
    try:
        yield stack, submit_research_runs(stack)
    finally:
        stack.stop()


@pytest.fixture
def dashboard(
    browser: Any, request: pytest.FixtureRequest, screenshots: Path
) -> Iterator[Callable[[str], Dashboard]]:
    """Opens pages at 1280x800; on failure the last page's screenshot is kept."""
    opened: list[Dashboard] = []

    def open_page(base_url: str) -> Dashboard:
        page = Dashboard(browser, base_url)
        opened.append(page)
        return page

    yield open_page
    for i, page in enumerate(opened):
        if _failed(request):
            page.screenshot(screenshots / f"FAILED-{request.node.name}-{i}.png")
        page.close()
