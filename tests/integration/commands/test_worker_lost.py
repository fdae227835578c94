"""A worker killed mid-run: nothing stays running, no command is left hanging."""

import signal
import time
from collections.abc import Iterator

import pytest

from tests.fixtures.stack import SHORT_TTL_S, LiveStack, short_ttl_stack


@pytest.fixture
def stack(
    module_redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveStack]:
    with short_ttl_stack(module_redis_url, tmp_path_factory.mktemp("lost")) as live:
        yield live


def test_killed_worker_fails_its_run_and_expires_commands(
    stack: LiveStack,
) -> None:
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
    # Detection follows the key's expiry within a sweep or so, not a second TTL.
    assert detected_s < SHORT_TTL_S + 1.5, detected_s
    command = stack.client.get(f"/api/v1/commands/{pending['id']}").json()
    assert command["state"] == "expired" and command["reason"] == "worker_lost"
    workers = stack.client.get("/api/v1/workers").json()
    assert [w["state"] for w in workers] == ["lost"]
