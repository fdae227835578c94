"""`esper up`: Redis (configured or bundled), migrations, gateway, workers, demo."""

import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from rich.console import Console

from app.cli import bundled_redis
from app.cli.follow import describe, follow_run
from app.cli.growth_report import growth_line
from app.cli.localenv import auth_headers, local_env
from app.cli.processes import Child, Supervisor, child_env, python_argv
from app.server import gateway_argv

# A capacity-limited host (spirals at width 16: 371 parameters, about 0.94
# validation accuracy alone; twice as wide reaches 1.0), so the default policy
# has something to add and a newcomer sees seeds germinate, blend and fossilise.
DEMO_SPEC: dict[str, Any] = {
    "name": "demo",
    "task": "spirals",
    "model": {"width": 16},
    "epochs": 20,
    "batch_size": 64,
    "learning_rate": 0.01,
    "seed": 0,
    # The default policy and gates; only the wall-clock budgets are wider, so
    # that on a busy laptop a missed 5 ms decision deadline or a slow step does
    # not decide whether the newcomer sees growth (docs/growth.md, "Configs").
    "morphogenesis": {
        "enabled": True,
        "decision_deadline_ms": 50.0,
        "gates": {"g4_max_step_overhead": 10.0},
    },
    "labels": {"source": "esper-up-demo"},
}


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class StartupError(RuntimeError):
    """A part of the stack did not come up; the message says which and why."""


@dataclass
class UpOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    data_dir: Path = Path("./var")
    demo: bool = True
    device: str = "cpu"


class LocalStack:
    """Owns every process `esper up` starts, and stops them all on the way out."""

    def __init__(self, opts: UpOptions, console: Console) -> None:
        self.opts = opts
        self.console = console
        self.data_dir = opts.data_dir.expanduser().resolve()
        self.logs = self.data_dir / "logs"
        self.supervisor = Supervisor()
        self.stop = threading.Event()
        self.base_url = f"http://{opts.host}:{opts.port}"
        self.env: dict[str, str] = {}

    def run(self) -> int:
        self._install_signals()
        try:
            self._start()
            if self.opts.demo and not self.stop.is_set():
                self._demo()
            self._serve()
        except StartupError as exc:
            self.console.print(f"[red]esper up failed:[/red] {exc}")
            return 1
        finally:
            self.console.print("stopping every process esper up started...")
            self.supervisor.stop_all()
            self.console.print("stopped.")
        return 0

    def _install_signals(self) -> None:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            if not self.stop.is_set():
                self.console.print(f"{signal.Signals(signum).name}: stopping")
            self.stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    # -- start-up ------------------------------------------------------------
    def _start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env = local_env(self.data_dir)
        self.env["ESPER_REDIS_URL"] = self._redis()
        self._migrate()
        self._gateway()
        for index in range(self.opts.workers):
            self._worker(index)
        self.console.print(f"API docs:  {self.base_url}/docs")
        self.console.print(f"Dashboard: {self.base_url}/")
        self.console.print(f"Logs:      {self.logs}")

    def _redis(self) -> str:
        configured = os.environ.get("ESPER_REDIS_URL")
        if configured and bundled_redis.redis_answers(configured):
            self.console.print(f"Redis:     {configured} (ESPER_REDIS_URL)")
            return configured
        port = bundled_redis.free_port()
        argv = bundled_redis.redis_argv(self.data_dir / "redis", port, persist=True)
        child = self.supervisor.add(
            Child("redis", argv, child_env({}), self.logs / "redis.log", tier=0)
        )
        url = f"redis://127.0.0.1:{port}/0"
        if not bundled_redis.wait_for_redis(url, child.proc):
            raise StartupError(f"bundled Redis did not start:\n{child.tail()}")
        self.console.print(f"Redis:     {url} (bundled)")
        return url

    def _migrate(self) -> None:
        from app.migrate import upgrade  # noqa: PLC0415 - heavy (SQLAlchemy)

        try:
            upgrade(self.env["ESPER_DATABASE_URL"])
        except Exception as exc:  # report, do not dump a traceback at a newcomer
            raise StartupError(f"migrations failed: {exc}") from exc

    def _gateway(self) -> None:
        if not port_free(self.opts.host, self.opts.port):
            raise StartupError(
                f"port {self.opts.port} on {self.opts.host} is in use "
                "(another esper up?); pick one with --port"
            )
        argv = gateway_argv(self.opts.host, self.opts.port)
        child = self.supervisor.add(
            Child(
                "gateway",
                argv,
                child_env(self.env),
                self.logs / "gateway.log",
                restart=True,
                tier=1,
            )
        )
        if not self._wait_healthy(child):
            raise StartupError(f"gateway did not become healthy:\n{child.tail()}")
        self.console.print(f"Gateway:   {self.base_url} (pid {child.pid})")

    def _wait_healthy(self, child: Child, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            if not child.alive():
                return False
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False

    def _worker(self, index: int) -> None:
        argv = python_argv("-m", "workers", "--device", self.opts.device)
        child = self.supervisor.add(
            Child(
                f"worker-{index}",
                argv,
                child_env(self.env),
                self.logs / f"worker-{index}.log",
                restart=True,
                tier=2,
            )
        )
        self.console.print(
            f"Worker:    {child.name} on {self.opts.device} (pid {child.pid})"
        )

    # -- demo and serving ----------------------------------------------------
    def _demo(self) -> None:
        spec = {**DEMO_SPEC, "device": self.opts.device}
        with httpx.Client(
            base_url=self.base_url, headers=auth_headers(), timeout=10
        ) as client:
            response = client.post("/api/v1/runs", json=spec)
            if response.status_code != 201:
                self.console.print(f"[red]demo run refused[/red]: {response.text}")
                return
            run_id = response.json()["id"]
            self.console.print(f"Demo run:  {self.base_url}/api/v1/runs/{run_id}")
            run = follow_run(client, run_id, spec["epochs"], self.console, self.stop)
            if run:
                self.console.print(
                    f"demo run finished: {describe(run)}", highlight=False
                )
                if run["state"] == "completed":
                    self.console.print(
                        growth_line(client, run), highlight=False, soft_wrap=True
                    )

    def _serve(self) -> None:
        if not self.stop.is_set():
            self.console.print("Serving; press Ctrl-C to stop.")
        while not self.stop.wait(0.5):
            for child in self.supervisor.check():
                self.console.print(
                    f"[yellow]{child.name} exited; restarted (pid {child.pid})[/yellow]"
                )
