"""A `resume` run whose worker is lost goes back to the queue with the next
attempt; the lost attempt's events and acks are refused (fencing)."""

import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from api_schemas import RunState
from api_schemas.bus import (
    EVENTS_STREAM,
    CommandAckEvent,
    ProgressEvent,
    RunStateEvent,
    run_fence_key,
)
from api_schemas.enums import CommandState
from api_schemas.runs import RunMetrics
from tests.fixtures.stack import LiveStack, short_ttl_stack

SPEC: dict[str, Any] = {
    "task": "digits",
    "epochs": 2000,
    "batch_size": 32,
    "device": "cpu",
    "morphogenesis": {"enabled": False},
    "restart_policy": "resume",
    "max_restarts": 1,
}


@pytest.fixture
def stack(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    with short_ttl_stack(module_redis_url, tmp_path_factory.mktemp("requeue")) as live:
        yield live


def _lose_worker(stack: LiveStack, run_id: str) -> dict[str, Any]:
    stack.wait_for_run(run_id, {"running"})
    stack.kill_worker(stack.workers[-1], signal.SIGKILL)
    return stack.wait_for_run(run_id, {"queued", "failed"}, timeout=20)


def test_lost_worker_requeues_a_resume_run_with_the_next_attempt(
    stack: LiveStack,
) -> None:
    run = stack.client.post("/api/v1/runs", json=SPEC).json()
    assert (run["attempt"], run["restarts"]) == (1, 0)
    stack.wait_for_run(run["id"], {"running"})
    pause = stack.client.post(
        f"/api/v1/runs/{run['id']}/commands", json={"type": "pause"}
    ).json()
    requeued = _lose_worker(stack, run["id"])
    assert requeued["state"] == "queued", requeued
    assert (requeued["attempt"], requeued["restarts"]) == (2, 1)
    command = stack.client.get(f"/api/v1/commands/{pause['id']}").json()
    assert command["state"] in ("applied", "expired")  # acked before the kill, or not
    client = redis.Redis.from_url(stack.redis_url)
    assert int(client.get(run_fence_key(run["id"])) or 0) == 2

    # Another worker takes the second attempt; losing it too spends the last
    # restart (max_restarts 1): the run fails.
    stack.start_worker()
    running = stack.wait_for_run(run["id"], {"running"}, timeout=30)
    assert running["attempt"] == 2
    failed = _lose_worker(stack, run["id"])
    assert failed["state"] == "failed" and failed["error"] == "worker_lost"
    assert failed["restarts"] == 1


def test_a_worker_restarted_under_its_own_id_requeues_its_resume_run(
    stack: LiveStack,
) -> None:
    """Its supervisor brought it back before the reaper noticed: the worker
    finds its old assignment pending, reports the run lost (with the attempt
    it held), and the run goes back to the queue; twice, so the second report
    comes from attempt 2 and must not be refused as a stale one."""
    stack.workers[0].stop()
    worker = stack.start_worker(worker_id="phoenix")
    run = stack.client.post("/api/v1/runs", json={**SPEC, "max_restarts": 2}).json()
    for attempt in (2, 3):
        _wait_running(stack, run["id"], attempt - 1)
        stack.kill_worker(worker, signal.SIGKILL)
        worker = stack.start_worker(worker_id="phoenix")
        now = _wait_attempt(stack, run["id"], attempt)
        assert now["restarts"] == attempt - 1


def _wait_running(stack: LiveStack, run_id: str, attempt: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = stack.client.get(f"/api/v1/runs/{run_id}").json()
        if run["attempt"] == attempt and run["state"] == "running":
            return
        time.sleep(0.1)
    raise AssertionError(f"attempt {attempt} of {run_id} never ran")


def _wait_attempt(
    stack: LiveStack, run_id: str, attempt: int, timeout: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = stack.client.get(f"/api/v1/runs/{run_id}").json()
        if run["attempt"] >= attempt:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never reached attempt {attempt}: {run}")


def test_a_stale_attempt_cannot_change_the_run(stack: LiveStack) -> None:
    run = stack.client.post("/api/v1/runs", json=SPEC).json()
    requeued = _lose_worker(stack, run["id"])
    assert requeued["attempt"] == 2
    before = fenced_total(stack.url)
    issued = stack.client.post(
        f"/api/v1/runs/{run['id']}/commands", json={"type": "pause"}
    ).json()
    # What the lost worker would send, were it to come back: attempt 1.
    stale: dict[str, Any] = {"run_id": run["id"], "worker_id": "ghost", "attempt": 1}
    events = [
        ProgressEvent(**stale, epoch=9, step=99_999, metrics=RunMetrics(loss=0.0)),
        CommandAckEvent(**stale, command_id=issued["id"], state=CommandState.applied),
        RunStateEvent(**stale, state=RunState.completed),
    ]
    client = redis.Redis.from_url(stack.redis_url)
    for event in events:
        client.xadd(EVENTS_STREAM, {"data": event.model_dump_json()})
    after = _wait_fenced(stack, before + len(events))
    assert after == before + len(events)
    now = stack.client.get(f"/api/v1/runs/{run['id']}").json()
    assert now["state"] == "queued" and now["step"] < 99_999
    command = stack.client.get(f"/api/v1/commands/{issued['id']}").json()
    assert command["state"] != "applied"


def fenced_total(url: str) -> float:
    """esper_events_fenced_total summed over event types."""
    text = httpx.get(url + "/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "esper_events_fenced"
        for sample in family.samples
        if sample.name == "esper_events_fenced_total"
    )


def _wait_fenced(stack: LiveStack, target: float, timeout: float = 10.0) -> float:
    deadline = time.monotonic() + timeout
    value = fenced_total(stack.url)
    while value < target and time.monotonic() < deadline:
        time.sleep(0.1)
        value = fenced_total(stack.url)
    return value
