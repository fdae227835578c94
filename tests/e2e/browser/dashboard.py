"""The dashboard as the browser tests see it: a page object over Playwright, and
the few API helpers the tests need (submit a run, kill the gateway)."""

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.stack import LiveStack

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_TOKEN = "browser-test-admin-token"
VIEWPORT = {"width": 1280, "height": 800}

# digits trains at a few hundred steps a second on a CPU: 2000 epochs keep a run
# going for minutes, longer than any test needs; the stack's teardown ends it.
LONG_RUN: dict[str, Any] = {
    "task": "digits",
    "epochs": 2000,
    "device": "cpu",
    "morphogenesis": {"enabled": False},
}
# For a seed the operator germinates: Tamiyo off (so it cannot take the slot
# first), gates relaxed so the seed reaches BLENDING within seconds on digits
# (whose host loss soon falls near zero, which fails G2's probe/host ratio), and
# a long alpha ramp so BLENDING lasts long enough to be seen.
BLENDING_RUN: dict[str, Any] = {
    "task": "digits",
    "epochs": 2000,
    "device": "cpu",
    "morphogenesis": {
        "enabled": False,
        "blend_steps": 2000,
        "gates": {
            "g2_tolerance": 1e6,
            "g2_max_harm": 1e12,
        },
    },
}


def api_client(stack: LiveStack, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=stack.url, headers=headers, timeout=15)


def submit_run(client: httpx.Client, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/runs", json={"name": name, **spec})
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


def wait_state(
    client: httpx.Client, run_id: str, states: set[str], timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = client.get(f"/api/v1/runs/{run_id}").json()
        if run.get("state") in states:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never reached {states}: {run}")


def hard_kill_gateway(stack: LiveStack) -> None:
    """SIGKILL the gateway: no close frames, the browser's sockets just drop."""
    proc = stack.gateway.proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    stack.gateway.proc = None


class Dashboard:
    """One browser context on the gateway's page, recording every error."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.base_url = base_url
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.errors.append(f"HTTP {response.status} {response.url}")

    def open(self, fragment: str = "") -> "Dashboard":
        self.page.goto(f"{self.base_url}/{fragment}")
        return self

    def open_run(self, run_id: str) -> "Dashboard":
        self.open(f"#/runs/{run_id}")
        self.page.wait_for_selector('[data-testid="run-head"] h1')
        return self

    def testid(self, name: str) -> Any:
        return self.page.locator(f'[data-testid="{name}"]')

    def chart(self, name: str = "chart-loss") -> dict[str, int]:
        data = self.testid(name).evaluate(
            "el => ({last: el.dataset.lastStep, points: el.dataset.points,"
            " holes: el.dataset.holes})"
        )
        return {k: int(v) if v not in (None, "") else -1 for k, v in data.items()}

    def wait_chart_step(
        self, at_least: int, timeout_s: float = 30, name: str = "chart-loss"
    ) -> int:
        """Wait until the chart's latest step reaches `at_least`; returns it."""
        self.page.wait_for_function(
            "([sel, n]) => Number(document.querySelector(sel)?.dataset.lastStep"
            " || -1) >= n",
            arg=[f'[data-testid="{name}"]', at_least],
            timeout=timeout_s * 1000,
        )
        return self.chart(name)["last"]

    def wait_connection(self, state: str, timeout_s: float = 30) -> None:
        self.page.wait_for_selector(
            f'#conn[data-state="{state}"]', timeout=timeout_s * 1000
        )

    def sign_in(self, token: str) -> None:
        self.page.wait_for_selector('[data-testid="login-dialog"][open]')
        self.page.fill("#login-token", token)
        self.page.click('#login-form button[type="submit"]')
        self.page.wait_for_selector(
            '[data-testid="login-dialog"]:not([open])', state="attached"
        )
        self.page.wait_for_function("() => document.getElementById('who').dataset.role")

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)

    def wait_outcome(self, state: str, timeout_s: float = 20) -> None:
        """The controls' outcome line (the POST's or a later packet's answer)."""
        self.page.wait_for_selector(
            f'[data-testid="outcome"][data-state="{state}"]', timeout=timeout_s * 1000
        )

    def ledger_row(self, command_type: str) -> Any:
        selector = f'[data-testid="ledger"] tr[data-type="{command_type}"]'
        return self.page.locator(selector)

    def close(self) -> None:
        self.context.close()
