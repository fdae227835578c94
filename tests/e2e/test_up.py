"""`esper up` as a newcomer runs it: the whole stack in subprocesses, then Ctrl-C."""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from api_schemas.enums import TERMINAL_RUN_STATE_VALUES
from tests.fixtures.gateway import ROOT
from tests.fixtures.services import free_port

SMALL_RUN = {
    "name": "e2e",
    "task": "digits",
    "epochs": 1,
    "device": "cpu",
    "model": {"width": 16, "depth": 1},
    "morphogenesis": {"enabled": False},
}


class Up:
    """One `python -m app.cli up ...` subprocess with its output in a file."""

    def __init__(self, tmp: Path, redis_url: str, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "esper-up.log"
        self.data_dir = tmp / "var"
        # A clean environment: nothing of the caller's ESPER_ settings leaks in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ESPER_")}
        env["ESPER_REDIS_URL"] = redis_url
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.cli",
                    "up",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    *args,
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def output(self) -> str:
        text = self.log_path.read_text(errors="replace")
        for name in sorted((self.data_dir / "logs").glob("*.log")):
            text += f"\n--- {name.name} ---\n{name.read_text(errors='replace')[-4000:]}"
        return text

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"no /healthz:\n{self.output()}")

    def wait_output(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_path.read_text(errors="replace"):
                return
            assert self.proc.poll() is None, self.output()
            time.sleep(0.25)
        raise AssertionError(f"{text!r} not printed:\n{self.output()}")

    def children(self) -> list[psutil.Process]:
        children: list[psutil.Process] = psutil.Process(self.proc.pid).children(
            recursive=True
        )
        return children

    def interrupt(self, timeout: float = 45) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)


@pytest.fixture
def up_factory(tmp_path: Path) -> Iterator[list[Up]]:
    started: list[Up] = []
    yield started
    for up in started:
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait(10)
        print(up.output())


def wait_for_run(client: httpx.Client, run_id: str, timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    run: dict[str, str] = {}
    while time.monotonic() < deadline:
        run = client.get(f"/api/v1/runs/{run_id}").json()
        if run["state"] in TERMINAL_RUN_STATE_VALUES:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run did not finish: {run}")


def assert_all_gone(processes: list[psutil.Process]) -> None:
    alive = [
        p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    ]
    assert not alive, f"still running: {[p.cmdline() for p in alive]}"


def test_up_serves_the_api_runs_a_submitted_run_and_stops_everything_on_ctrl_c(
    tmp_path: Path, redis_url: str, up_factory: list[Up]
) -> None:
    up = Up(tmp_path, redis_url, "--no-demo")
    up_factory.append(up)
    up.wait_healthy()
    up.wait_output("Serving", timeout=30)
    assert f"{up.url}/docs" in up.output()
    with httpx.Client(base_url=up.url, timeout=10) as client:
        created = client.post("/api/v1/runs", json=SMALL_RUN)
        assert created.status_code == 201, created.text
        run = wait_for_run(client, created.json()["id"], timeout=90)
    assert run["state"] == "completed", (run, up.output())
    workers = [p for p in up.children() if "workers" in p.cmdline()]
    assert len(workers) == 1
    workers[0].kill()  # the supervisor loop starts a new one
    up.wait_output("worker-0 exited; restarted", timeout=15)
    children = up.children()
    names = " ".join(" ".join(p.cmdline()) for p in children)
    assert "uvicorn" in names and "workers" in names
    assert up.interrupt() == 0, up.output()
    assert_all_gone(children + workers)


def test_up_with_the_demo_trains_it_to_completion_on_a_bundled_redis(
    tmp_path: Path, up_factory: list[Up]
) -> None:
    """The demo grows (issue 21): its capacity-limited host ends with at least
    one fossilised seed, and the terminal says what growth added."""
    # Nothing listens on this port, so `esper up` starts its bundled Redis.
    up = Up(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    up_factory.append(up)
    up.wait_output("(bundled)", timeout=30)
    up.wait_output("demo run finished: completed", timeout=110)
    up.wait_output("growth: ", timeout=15)
    line = next(x for x in up.output().splitlines() if x.startswith("growth: "))
    grown = re.match(r"growth: (\d+) of (\d+) seeds fossilised", line)
    assert grown and int(grown.group(1)) >= 1, line
    added = re.search(r"params (\d+) -> (\d+) \(\+(\d+)\)", line)
    assert added, line
    before, after, plus = map(int, added.groups())
    assert before == 371 and after == before + plus and plus > 0, line
    assert "validation accuracy" in line and "before the first seed" in line
    children = up.children()
    assert any("redis-server" in " ".join(p.cmdline()) for p in children)
    assert up.interrupt() == 0, up.output()
    assert_all_gone(children)
    assert (tmp_path / "var" / "esper.db").exists()
    assert (tmp_path / "var" / "leyline.secret").exists()


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_version_and_migrate(tmp_path: Path) -> None:
    assert run_cli("version").stdout.startswith("esper")
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    done = run_cli("migrate", "--database-url", url)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "m.db").stat().st_size > 0


def test_esper_worker_runs_the_worker_and_refuses_a_device_it_lacks(
    redis_url: str,
) -> None:
    env = {**os.environ, "ESPER_REDIS_URL": redis_url, "ESPER_LOCAL_MODE": "1"}
    done = run_cli("worker", "--device", "cuda:63", env=env)
    assert done.returncode == 2
    assert "cuda:63" in done.stderr or "CUDA" in done.stderr


def test_a_worker_without_a_secret_refuses_to_start_outside_local_mode(
    redis_url: str,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESPER_")}
    env["ESPER_REDIS_URL"] = redis_url
    done = run_cli("worker", "--device", "cpu", env=env)
    assert done.returncode == 2
    assert "ESPER_LEYLINE_SECRET" in done.stderr
