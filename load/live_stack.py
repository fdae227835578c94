"""A whole local stack for benchmarks: `esper up --no-demo` in a subprocess."""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import psutil

from app.auth import new_token
from app.cli.bundled_redis import free_port


def add_auth_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--auth",
        action="store_true",
        help="auth on, as in production: every request's token "
        "is looked up (the local stack's default is off)",
    )


class LocalStack:
    """Gateway + bundled or configured Redis + N CPU workers, torn down on exit.

    `auth=True` runs it as production does: every request carries a bearer
    token the gateway looks up (`ESPER_AUTH=on`, the bootstrap admin key)."""

    def __init__(
        self,
        workers: int = 1,
        device: str = "cpu",
        env: dict[str, str] | None = None,
        auth: bool = False,
    ) -> None:
        self.port = free_port()
        self.tmp = tempfile.TemporaryDirectory(prefix="esper-load-")
        self.data_dir = Path(self.tmp.name)
        self.workers = workers
        self.device = device
        self.headers: dict[str, str] = {}
        auth_env: dict[str, str] = {}
        if auth:
            token = new_token()
            auth_env = {"ESPER_AUTH": "on", "ESPER_ADMIN_TOKEN": token}
            self.headers = {"Authorization": f"Bearer {token}"}
        self.env = {**os.environ, **auth_env, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        """A client of this stack, with its token when auth is on."""
        return httpx.Client(base_url=self.url, timeout=30, headers=self.headers)

    def __enter__(self) -> Self:
        log = (self.data_dir / "up.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "up",
                "--no-demo",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--data-dir",
                str(self.data_dir),
                "--device",
                self.device,
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(60)
        if self.headers and httpx.get(self.url + "/api/v1/runs").status_code != 401:
            raise RuntimeError("auth on, yet the gateway answers without a token")
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(self.log())
            try:
                workers = httpx.get(
                    self.url + "/api/v1/workers", timeout=2, headers=self.headers
                ).json()
                if sum(w["state"] == "idle" for w in workers) >= self.workers:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError("stack did not become ready:\n" + self.log())

    def log(self) -> str:
        return (self.data_dir / "up.log").read_text(errors="replace")

    def redis_url(self) -> str:
        """The Redis the stack uses (configured or bundled), from its banner."""
        for line in self.log().splitlines():
            if line.startswith("Redis:"):
                return line.split()[1]
        raise RuntimeError("no Redis line in the stack's banner")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.tmp.cleanup()

    def gateway_pid(self) -> int:
        """The gateway process under `esper up` (it changes when restarted)."""
        assert self.proc is not None
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            argv = child.cmdline()
            if "uvicorn" in argv and str(self.port) in argv:
                return child.pid
        raise RuntimeError("no gateway process under esper up")

    @staticmethod
    def worker_pid(client: httpx.Client, run_id: str | None = None) -> int:
        """A live worker's pid: the one holding `run_id`, or any."""
        for worker in client.get("/api/v1/workers").json():
            if worker["state"] != "lost" and run_id in (None, worker["run_id"]):
                return int(worker["capabilities"]["pid"])
        raise RuntimeError(f"no live worker{f' holds run {run_id}' if run_id else ''}")

    def submit(self, client: httpx.Client, **spec: Any) -> str:
        body = {
            "task": "digits",
            "epochs": 1000,
            "batch_size": 32,
            "device": "cpu",
            "morphogenesis": {"enabled": False},
            **spec,
        }
        response = client.post("/api/v1/runs", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    def wait_state(
        self,
        client: httpx.Client,
        run_id: str,
        states: Collection[str],
        timeout: float = 60,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()
            if run["state"] in states:
                return run
            time.sleep(0.05)
        raise TimeoutError(f"run {run_id} never reached {states}")
