"""Commands at a real worker: verified on arrival, rejected with the exact reason,
emergency halt at once, registry reset clearing the nonce ledger."""

import time
import uuid
from pathlib import Path

from api_schemas.bus import BROADCAST_STREAM, command_stream
from tests.integration.conftest import SpawnWorker
from tests.integration.worker.busio import (
    ENDLESS,
    Client,
    assign,
    run_events,
    send,
    signed,
    states,
    telemetry,
    wait_ack,
    wait_for,
    wait_state,
)


def start_endless_run(bus: Client, spawn_worker: SpawnWorker, **env: str) -> str:
    spawn_worker(**env)
    run_id = assign(bus, ENDLESS)
    wait_for(
        bus,
        lambda e: e["type"] == "progress" and e["run_id"] == run_id and e["step"] > 0,
        timeout=60,
        what="progress",
    )
    return run_id


def stop_run(bus: Client, run_id: str) -> dict[str, object]:
    stop = signed(run_id, "stop")
    send(bus, stop)
    assert wait_ack(bus, stop.id)["state"] == "applied"
    return wait_state(bus, run_id, "cancelled")


def test_bad_commands_are_rejected_with_the_reason_and_change_nothing(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    run_id = str(uuid.uuid4())
    # Queued before the worker claims the run: the reader starts from 0.
    early_forgery = signed(run_id, "emergency_halt").model_copy(
        update={"signature": "0" * 64}
    )
    send(bus, early_forgery)
    spawn_worker()
    assign(bus, ENDLESS, run_id=run_id)
    wait_state(bus, run_id, "running", timeout=60)

    now = time.time()
    other_run_halt = signed(str(uuid.uuid4()), "emergency_halt")
    cases = {
        "stale_command": signed(run_id, "stop", issued_at=now - 3600),
        "issued_in_future": signed(run_id, "emergency_halt", issued_at=now + 600),
        "unknown_key": signed(run_id, "emergency_halt", key_id="k9", secret="other"),
        "invalid_signature": signed(run_id, "stop", secret="not-the-secret"),
    }
    for command in cases.values():
        send(bus, command)
    send(bus, other_run_halt, stream=command_stream(run_id))

    expected = {
        **{c.id: r for r, c in cases.items()},
        early_forgery.id: "invalid_signature",
        other_run_halt.id: "wrong_run",
    }
    for command_id, reason in expected.items():
        ack = wait_ack(bus, command_id)
        assert (ack["state"], ack["reason"]) == ("rejected", reason), ack

    assert states(bus, run_id) == ["assigned", "running"]
    wait_for(
        bus,
        lambda e: e["type"] == "progress" and e["run_id"] == run_id and e["step"] > 0,
        timeout=60,
        what="training advancing",
    )
    assert states(bus, run_id) == ["assigned", "running"]
    stop_run(bus, run_id)
    # Each refusal is a critical packet in the run's telemetry (the emergency
    # lane's threshold), with the verifier's running count.
    packets = telemetry(bus, run_id)
    refused = [p for p in packets if p["name"] == "kasmina.command_rejected"]
    assert {p["attrs"]["command_id"]: p["value"] for p in refused} == expected
    assert {p["level"] for p in refused} == {"critical"}
    counts = [
        p["value"]
        for p in packets
        if p["name"] == "kasmina.command_verifier.rejections_total"
    ]
    assert counts == [float(n) for n in range(1, len(expected) + 1)]


def test_a_replayed_command_is_rejected(bus: Client, spawn_worker: SpawnWorker) -> None:
    run_id = start_endless_run(bus, spawn_worker)
    resume = signed(run_id, "resume")
    send(bus, resume)
    first = wait_ack(bus, resume.id)
    assert first["reason"] != "nonce_replayed"
    send(bus, resume)
    wait_for(
        bus,
        lambda e: (
            e["type"] == "command_ack"
            and e["command_id"] == resume.id
            and e["reason"] == "nonce_replayed"
        ),
        what="replay rejection",
    )
    assert states(bus, run_id) == ["assigned", "running"]
    stop_run(bus, run_id)


def test_registry_reset_on_broadcast_clears_the_nonce_ledger(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    run_id = start_endless_run(bus, spawn_worker)
    resume = signed(run_id, "resume")
    send(bus, resume)
    wait_ack(bus, resume.id)
    reset = signed(None, "registry_reset")
    send(bus, reset, stream=BROADCAST_STREAM)
    wait_ack(bus, reset.id)
    send(bus, resume)  # the same nonce again: forgotten by the reset
    time.sleep(1.0)
    replays = [
        e
        for e in run_events(bus, run_id, "command_ack")
        if e["command_id"] == resume.id
    ]
    assert len(replays) == 2
    assert all(e["reason"] != "nonce_replayed" for e in replays)
    stop_run(bus, run_id)


def test_emergency_halt_ends_the_run_halted_with_the_reason(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    run_id = start_endless_run(bus, spawn_worker)
    halt = signed(run_id, "emergency_halt", {"reason": "loss exploded"})
    send(bus, halt)
    final = wait_state(bus, run_id, "halted")
    assert final["halt_reason"] == "loss exploded"
    assert wait_ack(bus, halt.id)["state"] == "applied"
    assert "forced" not in final["result"]


def test_a_halt_the_step_does_not_honour_kills_the_worker_with_forced(
    bus: Client, spawn_worker: SpawnWorker, tmp_path: Path
) -> None:
    worker = spawn_worker(ESPER_HALT_DEADLINE_S="1.0")
    marker = tmp_path / "hanging"
    spec = {
        **ENDLESS,
        "task": "tests.integration.worker.hang_task:factory",
        "model": {
            "width": 16,
            "depth": 1,
            "options": {"hang_after": 5, "hang_marker": str(marker)},
        },
    }
    run_id = assign(bus, spec)
    wait_state(bus, run_id, "running", timeout=60)
    deadline = time.monotonic() + 60
    while not marker.exists():  # halt a step that is stuck, not one about to be
        assert time.monotonic() < deadline, "the task never started hanging"
        time.sleep(0.05)
    halt = signed(run_id, "emergency_halt", {"reason": "stuck"})
    send(bus, halt)
    assert worker.wait(20) == 70
    final = run_events(bus, run_id, "run_state")[-1]
    assert final["state"] == "halted"
    assert final["result"]["forced"] is True
    assert final["halt_reason"] == "stuck"
    assert wait_ack(bus, halt.id)["state"] == "applied"


def test_pause_and_resume_are_applied_and_reported_as_run_states(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    run_id = start_endless_run(bus, spawn_worker)
    pause = signed(run_id, "pause")
    send(bus, pause)
    assert wait_ack(bus, pause.id)["state"] == "applied"
    wait_state(bus, run_id, "paused")
    resume = signed(run_id, "resume")
    send(bus, resume)
    assert wait_ack(bus, resume.id)["state"] == "applied"
    wait_for(
        bus,
        lambda e: (
            e["type"] == "run_state"
            and e["run_id"] == run_id
            and e["state"] == "running"
            and states(bus, run_id).count("running") == 2
        ),
        what="running again",
    )
    stop_run(bus, run_id)
    assert states(bus, run_id) == [
        "assigned",
        "running",
        "paused",
        "running",
        "cancelled",
    ]


def test_an_idle_worker_answers_broadcasts(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(worker_id="w-idle")
    wait_for(
        bus,
        lambda e: e["type"] == "worker" and e["worker_id"] == "w-idle",
        timeout=30,
        what="registration",
    )
    # The reader fixed its broadcast position before registering: no wait needed.
    reset = signed(None, "registry_reset")
    forged = signed(None, "registry_reset", secret="wrong")
    send(bus, reset, stream=BROADCAST_STREAM)
    send(bus, forged, stream=BROADCAST_STREAM)
    ack = wait_ack(bus, reset.id)
    assert (ack["state"], ack["worker_id"], ack["result"]["idle"]) == (
        "applied",
        "w-idle",
        True,
    )
    assert wait_ack(bus, forged.id)["reason"] == "invalid_signature"
