"""A worker killed mid-run: nothing stays running, no command is left hanging."""

import signal
import time
from collections.abc import Iterator

import pytest

from tests.fixtures.gateway import sqlite_url
from tests.fixtures.stack import LiveStack

# The key outlives the last heartbeat (every 1.5 s) by 2.5-4 s; detection must
# follow its expiry within a sweep or so, not wait a second TTL (6.5-8 s).
TTL_S = 4.0


@pytest.fixture
def short_ttl_stack(
    module_redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveStack]:
    tmp = tmp_path_factory.mktemp("lost")
    live = LiveStack(
        sqlite_url(tmp),
        module_redis_url,
        tmp,
        workers=1,
        ESPER_WORKER_TTL_S=str(TTL_S),
        ESPER_REAPER_INTERVAL_S="0.5",
    )
    yield live
    live.stop()


def test_killed_worker_fails_its_run_and_expires_commands(
    short_ttl_stack: LiveStack,
) -> None:
    stack = short_ttl_stack
    run = stack.client.post(
        "/api/v1/runs",
        json={
            "task": "digits",
            "epochs": 2000,
            "batch_size": 32,
            "device": "cpu",
            "morphogenesis": {"enabled": False},
        },
    ).json()
    stack.wait_for_run(run["id"], {"running"})
    stack.kill_worker(stack.workers[0], signal.SIGKILL)
    killed_at = time.monotonic()
    pending = stack.client.post(
        f"/api/v1/runs/{run['id']}/commands", json={"type": "pause"}
    ).json()
    failed = stack.wait_for_run(run["id"], {"failed"}, timeout=20)
    detected_s = time.monotonic() - killed_at
    assert failed["error"] == "worker_lost"
    assert detected_s < TTL_S + 1.5, detected_s
    command = stack.client.get(f"/api/v1/commands/{pending['id']}").json()
    assert command["state"] == "expired" and command["reason"] == "worker_lost"
    workers = stack.client.get("/api/v1/workers").json()
    assert [w["state"] for w in workers] == ["lost"]
