"""A real worker subprocess on real Redis: register, claim, train, report, ack."""

import signal
import uuid
from pathlib import Path

from api_schemas.bus import RUNS_GROUP, RUNS_STREAM, read_reply, worker_key
from tests.integration.conftest import SpawnWorker
from tests.integration.worker.busio import (
    ENDLESS,
    TINY,
    Client,
    assign,
    events,
    eventually,
    run_events,
    states,
    telemetry,
    wait_for,
    wait_state,
)
from workers.runner import Runner
from workers.settings import WorkerSettings

STEP_METRIC = "tolaria.training.loss"


def wait_registered(bus: Client, worker_id: str) -> dict[str, object]:
    return wait_for(
        bus,
        lambda e: (
            e["type"] == "worker"
            and e["worker_id"] == worker_id
            and e["state"] == "idle"
        ),
        timeout=30,
        what=f"registration of {worker_id}",
    )


def test_worker_registers_with_a_liveness_key(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(worker_id="w-reg")
    event = wait_registered(bus, "w-reg")
    assert event["device"] == "cpu"
    assert event["torch_version"]
    liveness = bus.hgetall(worker_key("w-reg"))
    assert liveness["state"] == "idle"
    assert liveness["device"] == "cpu"
    assert 0 < bus.pttl(worker_key("w-reg")) <= 10_000


def test_a_run_is_claimed_trained_reported_in_order_and_acked(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(worker_id="w-run")
    run_id = assign(bus, TINY)
    final = wait_state(bus, run_id, "completed", timeout=60)
    assert final["worker_id"] == "w-run"
    assert states(bus, run_id) == ["assigned", "running", "completed"]

    ordered = [
        e
        for e in events(bus)
        if e.get("run_id") == run_id and e["type"] in ("run_state", "progress")
    ]
    kinds = [e.get("state", e["type"]) for e in ordered]
    assert kinds[:2] == ["assigned", "running"] and kinds[-1] == "completed"
    progress = [e for e in ordered if e["type"] == "progress"]
    assert progress, "no progress events"
    assert set(kinds[2:-1]) == {"progress"}
    steps = [e["step"] for e in progress]
    assert steps == sorted(steps) and steps[-1] > 0
    assert progress[-1]["metrics"]["loss"] is not None

    # The assignment is acked right after the terminal event is out.
    eventually(
        lambda: bus.xpending(RUNS_STREAM, RUNS_GROUP)["pending"] == 0,
        what="assignment acked",
    )
    eventually(
        lambda: (
            [e["state"] for e in events(bus) if e["type"] == "worker"]
            == ["idle", "busy", "idle"]
        ),
        what="worker idle again",
    )
    assert bus.hget(worker_key("w-run"), "state") == "idle"


def test_telemetry_is_ordered_without_gaps_and_ends_with_the_final_state(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    spawn_worker()
    run_id = assign(bus, TINY)
    wait_state(bus, run_id, "completed", timeout=60)
    packets = telemetry(bus, run_id)
    assert all(p["run_id"] == run_id and p["ts"] for p in packets)
    assert [p["value"] for p in packets if p["name"] == "run.state"] == [
        "assigned",
        "running",
        "completed",
    ]
    assert packets[-1]["name"] == "run.state" and packets[-1]["value"] == "completed"
    steps = [p["step"] for p in packets if p["name"] == STEP_METRIC]
    assert len(steps) > 10
    assert steps == list(range(steps[0], steps[0] + len(steps))), "gap or reorder"
    final_progress = run_events(bus, run_id, "progress")[-1]
    assert steps[-1] == final_progress["step"]


def test_a_run_for_a_device_it_lacks_is_left_for_another_worker(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker()
    gpu_run = assign(bus, {**TINY, "device": "cuda:0"})
    cpu_run = assign(bus, TINY)
    wait_state(bus, cpu_run, "completed", timeout=60)
    worker.send(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert states(bus, gpu_run) == []
    reply = read_reply(
        bus.xreadgroup(RUNS_GROUP, "gpu-worker", {RUNS_STREAM: ">"}, count=10), str
    )
    claimed = [fields["data"] for _, entries in reply for _, fields in entries]
    assert len(claimed) == 1 and gpu_run in claimed[0]


def test_sigterm_mid_run_cancels_the_run_and_exits_zero(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(worker_id="w-term")
    run_id = assign(bus, ENDLESS, run_id=str(uuid.uuid4()))
    wait_for(
        bus,
        lambda e: e["type"] == "progress" and e["run_id"] == run_id and e["step"] > 0,
        timeout=60,
        what="progress",
    )
    worker.send(signal.SIGTERM)
    assert worker.wait(20) == 0
    final = run_events(bus, run_id, "run_state")[-1]
    assert final["state"] == "cancelled"
    assert final["error"] == "worker_shutdown"
    assert final["result"]["reason"] == "worker_shutdown"
    assert telemetry(bus, run_id)[-1]["value"] == "cancelled"
    assert bus.xpending(RUNS_STREAM, RUNS_GROUP)["pending"] == 0
    last_worker_event = [e for e in events(bus) if e["type"] == "worker"][-1]
    assert last_worker_event["state"] == "draining"
    assert not bus.exists(worker_key("w-term"))


def test_the_worker_survives_its_runs_stream_vanishing(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(worker_id="w-flush")
    wait_registered(bus, "w-flush")
    bus.delete(RUNS_STREAM)  # stream and group gone, as after a Redis restart
    run_id = assign(bus, TINY)
    wait_state(bus, run_id, "completed", timeout=60)
    assert worker.alive()


def test_a_stream_vanishing_at_startup_is_not_a_crash(
    bus: Client, redis_url: str, tmp_path: Path
) -> None:
    # The race a CI run hit: serve() created the group, then the stream went
    # (Redis flushed) before the check for this id's pending runs, whose
    # NOGROUP reply killed the worker at startup.
    runner = Runner(
        WorkerSettings(redis_url=redis_url, data_dir=tmp_path), "cpu", "w-race"
    )
    try:
        bus.delete(RUNS_STREAM)
        runner._fail_own_pending()
        groups = bus.xinfo_groups(RUNS_STREAM)
        assert [g["name"] for g in groups] == [RUNS_GROUP]  # recreated
    finally:
        runner.ctx.client.close()
