"""The operator dashboard in headless Chromium against the live stack (issue 6).

Each test starts a real gateway (uvicorn) and a real worker on Redis and SQLite,
opens the page at 1280x800 and acts as an operator would.
"""

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.e2e.browser.dashboard import (
    ADMIN_TOKEN,
    BLENDING_RUN,
    LONG_RUN,
    Dashboard,
    api_client,
    hard_kill_gateway,
    submit_run,
    wait_state,
)
from tests.fixtures.stack import LiveStack

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
Open = Callable[[str], Dashboard]
# A claimed run trains from `assigned` on; the page needs only that it trains.
STARTED = {"assigned", "running"}


def test_page_loads_without_console_errors(stack: LiveStack, dashboard: Open) -> None:
    client = api_client(stack)
    run = submit_run(client, "console-check", LONG_RUN)
    wait_state(client, run["id"], STARTED)
    page = dashboard(stack.url).open()
    page.page.wait_for_selector(f'[data-testid="runs"] tr[data-run-id="{run["id"]}"]')
    page.page.wait_for_selector('[data-testid="workers"] tr[data-worker-id]')
    page.wait_connection("live")
    page.open_run(run["id"])
    page.wait_chart_step(1)
    page.page.wait_for_timeout(1500)  # let late requests (history, ledger) finish
    assert page.errors == []
    icon = page.page.evaluate("() => document.querySelector('link[rel=icon]').href")
    assert client.get(icon.replace(stack.url, "")).status_code == 200
    assert client.get("/favicon.ico").status_code == 200


def test_submitted_run_appears_and_its_chart_grows(
    stack: LiveStack, dashboard: Open, screenshots: Path
) -> None:
    page = dashboard(stack.url).open()
    page.wait_connection("live")
    client = api_client(stack)
    run = submit_run(client, "grows-live", LONG_RUN)
    row = page.page.locator(f'[data-testid="runs"] tr[data-run-id="{run["id"]}"]')
    row.wait_for(timeout=15000)
    page.page.wait_for_selector(
        f'[data-testid="runs"] tr[data-run-id="{run["id"]}"][data-state="running"]',
        timeout=30000,
    )
    page.page.wait_for_selector('[data-testid="workers"] tr[data-state="busy"]')
    # A second run waits behind the only worker, so the fleet shows both states.
    queued = submit_run(client, "waits-its-turn", LONG_RUN)
    page.page.wait_for_selector(
        f'[data-testid="runs"] tr[data-run-id="{queued["id"]}"][data-state="queued"]'
    )
    page.page.wait_for_function(
        "sel => Number(document.querySelector(sel)?.dataset.step || 0) > 0",
        arg=f'[data-testid="runs"] tr[data-run-id="{run["id"]}"]',
        timeout=15000,
    )
    page.screenshot(screenshots / "fleet-view.png")

    row.get_by_role("link", name="grows-live").click()
    page.page.wait_for_selector('[data-testid="run-head"][data-state="running"]')
    first = page.wait_chart_step(1)
    grown = page.wait_chart_step(first + 100, timeout_s=30)
    chart = page.chart()
    assert grown >= first + 100
    assert chart["points"] > 1
    assert chart["holes"] == 0
    assert page.chart("chart-accuracy")["last"] > 0
    assert page.chart("chart-step-time")["last"] > 0


def profile_from_the_page(page: Dashboard, client: httpx.Client, run_id: str) -> None:
    """Profile… with 3 steps: applied, then its trace linked once stored."""
    page.testid("cmd-profile").click()
    dialog = page.testid("profile-dialog")
    dialog.locator('[data-testid="field-steps"]').fill("3")
    dialog.locator('[data-testid="dialog-confirm"]').click()
    page.wait_outcome("applied")
    stored = page.page.locator('[data-testid="profile-trace"][data-state="stored"]')
    stored.wait_for(timeout=30000)
    (command,) = client.get(f"/api/v1/runs/{run_id}/commands").json()["items"]
    assert command["type"] == "profile" and command["params"] == {"steps": 3}
    link = stored.locator("a[download]")
    assert link.inner_text() == command["result"]["artifact"]
    with page.page.expect_download() as info:
        link.click()
    trace = json.loads(gzip.decompress(Path(info.value.path()).read_bytes()))
    names = [e["name"] for e in trace["traceEvents"]]
    assert sum(name.startswith("ProfilerStep#") for name in names) == 3


def test_emergency_halt_from_the_page(stack: LiveStack, dashboard: Open) -> None:
    client = api_client(stack)
    run = submit_run(client, "halt-me", LONG_RUN)
    wait_state(client, run["id"], STARTED)
    page = dashboard(stack.url).open_run(run["id"])
    page.wait_chart_step(1)
    profile_from_the_page(page, client, run["id"])  # before the halt, same run

    page.testid("cmd-halt").click()
    dialog = page.testid("halt-dialog")
    dialog.wait_for()
    assert "halt-me" in dialog.inner_text()  # the confirmation names the run
    dialog.locator('[data-testid="field-reason"]').fill("browser test")
    dialog.locator('[data-testid="dialog-confirm"]').click()

    page.wait_outcome("applied")
    # The outcome line may still show the profile's "applied": wait on the
    # halt's own ledger row reaching it (dispatched first, then applied).
    page.page.wait_for_selector(
        '[data-testid="ledger"] tr[data-type="emergency_halt"][data-state="applied"]',
        timeout=20000,
    )
    ledger_row = page.ledger_row("emergency_halt")
    assert ledger_row.get_attribute("data-state") == "applied"
    assert "applied" in ledger_row.inner_text()
    halted = wait_state(client, run["id"], {"halted"}, timeout=20)
    assert halted["halt_reason"]
    page.page.wait_for_selector(
        '[data-testid="run-head"][data-state="halted"]', timeout=15000
    )
    assert page.testid("cmd-halt").is_disabled()


def test_viewer_sees_no_controls(auth_stack: LiveStack, dashboard: Open) -> None:
    admin = api_client(auth_stack, ADMIN_TOKEN)
    tokens = {}
    for role in ("viewer", "operator"):
        response = admin.post(
            "/api/v1/keys", json={"name": f"browser-{role}", "role": role}
        )
        assert response.status_code == 201, response.text
        tokens[role] = response.json()["token"]
    run = submit_run(admin, "viewer-watch", LONG_RUN)
    wait_state(admin, run["id"], STARTED)

    page = dashboard(auth_stack.url).open()
    page.sign_in(tokens["viewer"])
    assert page.testid("who").get_attribute("data-role") == "viewer"
    page.open_run(run["id"])
    page.wait_chart_step(1)  # the WebSocket accepted the viewer's ticket
    assert page.testid("read-only").is_visible()
    assert page.testid("controls").count() == 0
    actions = page.page.locator('[data-testid^="cmd-"], [data-testid="cull-seed"]')
    assert actions.count() == 0
    assert page.page.get_by_role("button", name="Roll back…").count() == 0

    # The same page with an operator's token does show them (the check can fail).
    page.page.click("#signout")
    page.sign_in(tokens["operator"])
    page.open_run(run["id"])
    page.testid("controls").wait_for()
    assert page.testid("cmd-halt").is_visible()


def test_gateway_killed_and_restarted_mid_run_leaves_no_gap(
    stack: LiveStack, dashboard: Open
) -> None:
    client = api_client(stack)
    run = submit_run(client, "survives-restart", LONG_RUN)
    wait_state(client, run["id"], STARTED)
    page = dashboard(stack.url).open_run(run["id"])
    page.wait_connection("live")
    before = page.wait_chart_step(50)

    hard_kill_gateway(stack)
    page.wait_connection("reconnecting", timeout_s=10)
    assert "Reconnecting" in page.page.inner_text("#conn")
    time.sleep(3)  # the worker keeps training and publishing meanwhile
    stack.gateway.start()
    page.wait_connection("live", timeout_s=40)

    # Steps trained while the gateway was down arrive by replay, then live ones.
    at_restart = api_client(stack).get(f"/api/v1/runs/{run['id']}").json()["step"]
    after = page.wait_chart_step(max(at_restart, before) + 100, timeout_s=40)
    chart = page.chart()
    assert after > before
    assert chart["holes"] == 0, page.page.inner_text('[data-testid="chart-loss"]')
    assert page.page.locator(".banner.danger", has_text="Telemetry gap").count() == 0


def test_run_view_with_seeds_blending(
    stack: LiveStack, dashboard: Open, screenshots: Path
) -> None:
    client = api_client(stack)
    run = submit_run(client, "seeds-blending", BLENDING_RUN)
    wait_state(client, run["id"], STARTED)
    page = dashboard(stack.url).open_run(run["id"])
    page.wait_chart_step(1)

    # Germinate through the page's own control, then watch the lane.
    page.testid("cmd-seed-enable").click()
    dialog = page.testid("seed-dialog")
    dialog.wait_for()
    dialog.locator('[data-testid="field-slot"]').select_option("block0")
    dialog.locator('[data-testid="field-blueprint"]').select_option("residual_mlp")
    dialog.locator('[data-testid="dialog-confirm"]').click()
    page.wait_outcome("applied")
    assert page.ledger_row("seed_enable").get_attribute("data-state") == "applied"

    # Mid-ramp: alpha well above 0 and the seed still BLENDING.
    page.page.wait_for_function(
        """() => [...document.querySelectorAll(
                   '[data-testid="seeds"] tr[data-stage="BLENDING"]')]
             .some(tr => Number(tr.querySelector('td.num')?.textContent) >= 0.3)""",
        timeout=90000,
    )
    assert int(page.testid("swimlane").get_attribute("data-seeds") or 0) >= 1
    page.screenshot(screenshots / "run-view-seeds-blending.png")
