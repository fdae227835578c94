"""A `devices: 2` run through a real worker subprocess on CPU (2 gloo ranks):
one telemetry stream, commands acked once, the run completes or halts."""

from tests.integration.conftest import SpawnWorker
from tests.integration.worker.busio import (
    ENDLESS,
    TINY,
    Client,
    assign,
    send,
    signed,
    telemetry,
    wait_ack,
    wait_for,
    wait_state,
)

STEP_METRIC = "tolaria.training.loss"


def test_a_two_rank_run_trains_with_one_telemetry_stream(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(worker_id="w-ddp")
    run_id = assign(bus, {**TINY, "devices": 2})
    final = wait_state(bus, run_id, "completed", timeout=90)
    assert final["result"]["devices"] == ["cpu", "cpu"]
    steps = [p["step"] for p in telemetry(bus, run_id) if p["name"] == STEP_METRIC]
    # Rank 0 alone publishes: each step exactly once, in order.
    assert steps == list(range(1, final["result"]["steps"] + 1))


def test_a_two_rank_run_takes_commands_and_halts(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(worker_id="w-ddp-halt")
    run_id = assign(
        bus,
        {**ENDLESS, "devices": 2, "morphogenesis": {"enabled": True, "max_seeds": 0}},
    )
    wait_for(
        bus,
        lambda e: e["type"] == "progress" and e["run_id"] == run_id and e["step"] > 0,
        timeout=90,
        what="progress",
    )
    enable = signed(
        run_id, "seed_enable", {"slot": "block0", "blueprint": "residual_mlp"}
    )
    send(bus, enable)
    assert wait_ack(bus, enable.id, timeout=30)["state"] == "applied"
    halt = signed(run_id, "emergency_halt", {"reason": "ddp test"})
    send(bus, halt)
    final = wait_state(bus, run_id, "halted", timeout=60)
    assert final["halt_reason"] == "ddp test"
    assert final["result"]["steps_after_halt"] <= 1
