"""chaos, Redis rounds: Redis killed mid-run and started again without
persistence (empty), while a run trains.

The newest telemetry cursor is noted; a moment later the stream's entries past
it are read (what the worker wrote meanwhile) and Redis is killed with
SIGKILL and started again on its port. Once the new stream has grown for a
while, a client resumes with `?after=` that cursor over the WebSocket, as a
client that was away would, and reads up to the new stream's newest entry.
Every packet it should see (the old entries read before the kill, the new
stream's) is either in the replay or inside the range of a `telemetry.gap`
frame; one that is neither is an unreported gap.
"""

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from api_schemas.bus import telemetry_stream
from api_schemas.enums import TERMINAL_RUN_STATE_VALUES
from api_schemas.telemetry import cursor_key
from app.cli.bundled_redis import free_port, redis_argv, wait_for_redis
from load.live_stack import LocalStack
from load.scenarios.command_latency import wait_training

GROW_S = 3.0  # the new stream's entries before the client resumes


class NoPersistRedis:
    """redis-server without persistence for the stack (`ESPER_REDIS_URL`):
    restarting it loses everything, as a Redis without AOF or RDB does."""

    def __init__(self, workdir: Path) -> None:
        self.argv = redis_argv(workdir, free_port(), persist=False)
        self.url = f"redis://127.0.0.1:{self.argv[2]}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL)
        if not wait_for_redis(self.url, self.proc):
            raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()


def newest(bus: "redis.Redis[bytes]", stream: str) -> str | None:
    entries = bus.xrevrange(stream, count=1)
    return entries[0][0].decode() if entries else None


def restart_redis_round(
    stack: LocalStack, client: httpx.Client, server: NoPersistRedis
) -> dict[str, Any]:
    run_id = stack.submit(client)
    stack.wait_state(client, run_id, {"running"})
    wait_training(client, run_id)
    stream = telemetry_stream(run_id)
    with redis.Redis.from_url(server.url) as bus:
        before = newest(bus, stream)
        assert before is not None, "a training run has telemetry"
        time.sleep(0.3)  # the worker writes on; the persister reads on
        written = [i.decode() for i, _ in bus.xrange(stream, min=f"({before}")]
    server.restart()
    restarted = time.monotonic()
    with redis.Redis.from_url(server.url) as bus:
        target = _grown(bus, stream)
        written += [i.decode() for i, _ in bus.xrange(stream, max=target)]
    resumed_s = time.monotonic() - restarted
    seen, gaps, end = replay(stack.url, run_id, before, target)
    # A run that ended meanwhile (its final state packet) ends the replay too.
    written = [c for c in written if cursor_key(c) <= cursor_key(end)]
    missing = [c for c in written if c not in seen]
    unreported = [c for c in missing if not any(_inside(c, g) for g in gaps)]
    run = client.get(f"/api/v1/runs/{run_id}").json()
    state = f"{run['state']}" + (f" ({run['error']})" if run.get("error") else "")
    client.post(f"/api/v1/runs/{run_id}/cancel")
    try:
        stack.wait_state(client, run_id, TERMINAL_RUN_STATE_VALUES)
        stuck = False
    except TimeoutError:
        stuck = True
    return {
        "state": state,
        "written": len(written),
        "missing": len(missing),
        "gaps": len(gaps),
        "unreported": len(unreported),
        "resumed_s": resumed_s,
        "stuck": stuck,
    }


def _grown(bus: "redis.Redis[bytes]", stream: str, timeout: float = 60) -> str:
    """The new stream's newest entry once it has grown for GROW_S."""
    deadline = time.monotonic() + timeout
    while newest(bus, stream) is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the worker wrote no telemetry after Redis restarted")
        time.sleep(0.1)
    time.sleep(GROW_S)
    target = newest(bus, stream)
    assert target is not None
    return target


def replay(
    url: str, run_id: str, after: str, target: str, timeout: float = 60
) -> tuple[set[str], list[tuple[str, str]], str]:
    """Packet cursors and gap ranges of a resume after `after`, up to `target`
    (or the run's final packet, whose cursor then comes third)."""
    ws_url = url.replace("http://", "ws://") + f"/ws/runs/{run_id}?after={after}"
    seen: set[str] = set()
    gaps: list[tuple[str, str]] = []
    end = target
    with connect(ws_url, compression=None, open_timeout=30) as ws:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                frame = json.loads(ws.recv(timeout=timeout))
            except ConnectionClosed:  # the run ended (1000) before `target`
                end = max(seen, key=cursor_key, default=after)
                break
            if frame.get("name") == "telemetry.gap":
                gaps.append((frame["attrs"]["from"], frame["attrs"]["to"]))
                continue
            seen.add(frame["cursor"])
            if cursor_key(frame["cursor"]) >= cursor_key(target):
                break
    return seen, gaps, end


def _inside(cursor: str, gap: tuple[str, str]) -> bool:
    """Strictly between `from` and `to` ("+": no known end)."""
    low, high = gap
    if cursor_key(cursor) <= cursor_key(low):
        return False
    return high == "+" or cursor_key(cursor) < cursor_key(high)
