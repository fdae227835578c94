"""A run no worker has started is ended by the gateway: the fleet halt leaves
it `halted` at once, a cancel `cancelled`, and a worker that comes later never
trains it (ARCHITECTURE.md, Run lifecycle)."""

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.gateway import sqlite_url
from tests.fixtures.stack import LiveStack

SPEC: dict[str, Any] = {
    "task": "digits",
    "epochs": 2,
    "batch_size": 32,
    "device": "cpu",
    "morphogenesis": {"enabled": False},
}


@pytest.fixture
def idle_stack(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    """A gateway with no worker yet: every run stays queued."""
    tmp = tmp_path_factory.mktemp("queued-end")
    live = LiveStack(sqlite_url(tmp), module_redis_url, tmp, workers=0)
    yield live
    print(live.logs()[-20000:])
    live.stop()


def _submit(stack: LiveStack) -> str:
    response = stack.client.post("/api/v1/runs", json=SPEC)
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    return run_id


def _wait_for_log(stack: LiveStack, text: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while stack.logs().count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} x{count} not logged"
        time.sleep(0.2)


def test_halt_and_cancel_end_queued_runs_that_never_train(
    idle_stack: LiveStack,
) -> None:
    stack = idle_stack
    halted_id, cancelled_id = _submit(stack), _submit(stack)
    cancel = stack.client.post(f"/api/v1/runs/{cancelled_id}/cancel")
    assert cancel.status_code == 202, cancel.text
    assert cancel.json()["state"] == "applied"
    assert cancel.json()["result"] == {"ended_by": "gateway", "state": "cancelled"}
    halt = stack.client.post("/api/v1/emergency/halt")
    assert halt.status_code == 202, halt.text
    [command] = halt.json()["commands"]  # the cancelled run is already terminal
    assert command["run_id"] == halted_id and command["state"] == "applied"
    assert command["result"] == {"ended_by": "gateway", "state": "halted"}
    halted = stack.client.get(f"/api/v1/runs/{halted_id}").json()
    assert halted["state"] == "halted"
    assert halted["halt_reason"] == "fleet emergency halt"
    assert stack.client.get(f"/api/v1/runs/{cancelled_id}").json()["state"] == (
        "cancelled"
    )
    ledger = stack.client.get(f"/api/v1/runs/{halted_id}/commands").json()["items"]
    assert [c["state"] for c in ledger] == ["applied"]

    stack.start_worker()  # claims both assignments later, and skips them
    _wait_for_log(stack, "it ended before it started", 2, timeout=60)
    for run_id, state in ((halted_id, "halted"), (cancelled_id, "cancelled")):
        run = stack.client.get(f"/api/v1/runs/{run_id}").json()
        assert run["state"] == state
        assert run["started_at"] is None and run["step"] == 0, run
    # The worker is free for new work: a new run trains to the end.
    fresh = _submit(stack)
    assert stack.wait_for_run(fresh, {"completed"}, timeout=120)["step"] > 0
