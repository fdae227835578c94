"""The gateway, worker and client hosts' processes (load/hosts/cluster.py):
their environment, the argv each is started with, and the client host's
HTTP client."""

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from load.hosts.netns import Host

SECRET = "several-hosts-leyline-secret"
ADMIN_TOKEN = "esper_several_hosts_admin_token_0123456789"
GATEWAY_PORT = 8000

# Lost workers are found within seconds, as in tests/fixtures/stack.py.
FAST_DETECTION = {
    "ESPER_WORKER_TTL_S": "4",
    "ESPER_REAPER_INTERVAL_S": "0.5",
    "ESPER_HEARTBEAT_S": "0.5",
    "ESPER_CLAIM_BLOCK_MS": "200",
}


def base_env() -> dict[str, str]:
    """The caller's environment without its ESPER_* settings: each host gets
    exactly the settings given here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESPER_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class HostHttp:
    """An httpx client whose every request leaves from `host`."""

    def __init__(self, host: Host, base_url: str, headers: Mapping[str, str]) -> None:
        self.host = host
        self.base_url = base_url
        self._client = host.call(
            httpx.Client, base_url=base_url, headers=dict(headers), timeout=15
        )

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.host.call(self._client.get, path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.host.call(self._client.post, path, **kw)

    def json(self, path: str, **kw: Any) -> Any:
        response = self.get(path, **kw)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self.host.call(self._client.close)


def gateway_argv(address: str, *, migrate: bool, sqlite: bool) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "app.cli",
        "gateway",
        "--host",
        address,
        "--port",
        str(GATEWAY_PORT),
        "--workers",
        "1",
    ]
    if migrate:
        argv.append("--migrate")
    if sqlite:
        argv.append("--allow-sqlite")
    return [*argv, "--log-level", "warning"]


def wait_ready(
    client: Host,
    host: Host,
    proc: subprocess.Popen[bytes],
    timeout: float = 60.0,
) -> None:
    """Until `host`'s gateway answers /readyz from `client`."""
    url = f"http://{host.address}:{GATEWAY_PORT}/readyz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{host.name} exited {proc.returncode}")
        try:
            if client.call(httpx.get, url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{host.name} not ready in {timeout} s")


def worker_argv() -> list[str]:
    return [sys.executable, "-m", "workers", "--device", "cpu"]


def follow_argv(
    ws: str, out: Path, timeout_s: float, run_ids: Sequence[str]
) -> list[str]:
    """load/hosts/follow.py's command line."""
    return [
        sys.executable,
        "-m",
        "load.hosts.follow",
        "--url",
        ws,
        "--out",
        str(out),
        "--timeout",
        str(timeout_s),
        *run_ids,
    ]
