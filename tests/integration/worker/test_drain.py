"""Draining with real worker processes: a drained worker finishes its run,
claims nothing more and says `drained`; a lost worker leaves the list after
`ESPER_LOST_WORKER_RETENTION_S`."""

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.stack import LiveStack, short_ttl_stack

SPEC: dict[str, Any] = {
    "task": "digits",
    "epochs": 3,
    "batch_size": 32,
    "device": "cpu",
    "morphogenesis": {"enabled": False},
}
RETENTION_S = 6.0


@pytest.fixture
def stack(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    with short_ttl_stack(
        module_redis_url,
        tmp_path_factory.mktemp("drain"),
        ttl_s=3.0,
        ESPER_LOST_WORKER_RETENTION_S=str(RETENTION_S),
    ) as live:
        yield live
        print(live.logs()[-20000:])


def _workers(stack: LiveStack) -> dict[str, dict[str, Any]]:
    return {w["id"]: w for w in stack.client.get("/api/v1/workers").json()}


def _wait_worker(
    stack: LiveStack, check: Any, what: str, timeout: float = 30.0
) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while not check(workers := _workers(stack)):
        assert time.monotonic() < deadline, f"{what}: {workers}\n{stack.logs()}"
        time.sleep(0.2)
    return workers


def _submit(stack: LiveStack) -> str:
    response = stack.client.post("/api/v1/runs", json=SPEC)
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    return run_id


def test_a_drained_worker_finishes_its_run_and_claims_no_more(
    stack: LiveStack,
) -> None:
    first = _submit(stack)
    stack.wait_for_run(first, {"running"})
    [worker_id] = _workers(stack)
    drain = stack.client.post(f"/api/v1/workers/{worker_id}/drain")
    assert drain.status_code == 202 and drain.json()["state"] == "draining"
    second = _submit(stack)  # queued behind the drain: never claimed
    assert stack.wait_for_run(first, {"completed", "failed"})["state"] == "completed"
    _wait_worker(stack, lambda ws: ws[worker_id]["state"] == "drained", "never drained")
    time.sleep(3.0)  # several claim blocks: a claiming worker would take it
    assert stack.client.get(f"/api/v1/runs/{second}").json()["state"] == "queued"
    assert _workers(stack)[worker_id]["state"] == "drained"
    assert stack.workers[0].alive()

    # A fresh worker takes the queued run; the drained one stays out of it.
    stack.start_worker()
    done = stack.wait_for_run(second, {"completed", "failed"}, timeout=60)
    assert done["state"] == "completed" and done["worker_id"] != worker_id


def test_a_lost_worker_leaves_the_list_after_the_retention(
    stack: LiveStack,
) -> None:
    [worker_id] = _wait_worker(stack, lambda ws: len(ws) == 1, "no worker")
    stack.kill_worker(stack.workers[0], signal.SIGKILL)
    _wait_worker(
        stack, lambda ws: ws.get(worker_id, {}).get("state") == "lost", "not lost"
    )
    lost_at = time.monotonic()
    _wait_worker(stack, lambda ws: worker_id not in ws, "still listed", timeout=20)
    assert time.monotonic() - lost_at < RETENTION_S + 2.0
