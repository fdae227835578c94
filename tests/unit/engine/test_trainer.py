"""End-to-end Trainer runs on tiny models with scripted hooks."""

import threading
from pathlib import Path

import pytest

from tests.unit.engine.helpers import Script, run, spec, trainer
from workers.engine.trainer import Trainer

USER_TASK = "tests.unit.engine.user_task:factory"


def test_digits_run_completes_and_emits_metrics(tmp_path: Path) -> None:
    script = Script()
    t, outcome = run(script, spec(epochs=2), tmp_path)
    assert outcome.state == "completed", outcome.error
    steps = outcome.result["steps"]
    assert steps == t.state.step > 0
    for name in ("tolaria.training.loss", "tolaria.step.latency_ms"):
        assert [p["step"] for p in script.named(name)] == list(range(1, steps + 1))
    # Training accuracy is read every `accuracy_every` (10) steps.
    accuracy = script.named("tolaria.training.accuracy")
    assert [p["step"] for p in accuracy] == list(range(10, steps + 1, 10))
    assert all(0 <= p["value"] <= 1 for p in accuracy)
    assert progress_accuracy(t) == accuracy[-1]["value"]
    assert len(script.named("tolaria.validation.accuracy")) == 2
    assert script.named("tolaria.validation.accuracy")[-1]["value"] > 0.5
    assert len(script.checkpoints) >= 2
    progress = t.progress()
    assert progress.step == steps and progress.metrics["val_accuracy"]


def progress_accuracy(t: Trainer) -> float | None:
    return t.progress().metrics["accuracy"]


def test_unknown_task_and_broken_user_task_fail_clearly(tmp_path: Path) -> None:
    _, outcome = run(Script(), spec(task="nope"), tmp_path)
    assert outcome.state == "failed" and "unknown task" in (outcome.error or "")
    _, outcome = run(Script(), spec(task="tests.no_such_mod:factory"), tmp_path)
    assert outcome.state == "failed" and "cannot import" in (outcome.error or "")
    _, outcome = run(
        Script(), spec(task="tests.unit.engine.user_task:broken_factory"), tmp_path
    )
    assert outcome.state == "failed" and "broken on purpose" in (outcome.error or "")


def test_user_task_by_import_path(tmp_path: Path) -> None:
    _, outcome = run(Script(), spec(task=USER_TASK, epochs=2, batch_size=32), tmp_path)
    assert outcome.state == "completed", outcome.error
    assert outcome.result["seed_stages"] == {"DORMANT": 1}


def test_pause_resume_and_stop(tmp_path: Path) -> None:
    script = Script()
    pause = script.at(3, "pause")
    resume = script.at(3, "resume")
    stop = script.at(5, "stop")
    t, outcome = run(script, spec(epochs=3), tmp_path)
    assert outcome.state == "cancelled"
    assert t.state.step == 5
    assert script.ack_for(pause)[0] == "applied"
    assert script.ack_for(resume)[0] == "applied"
    assert script.ack_for(stop)[0] == "applied"
    assert script.states == ["paused", "running"]


def test_pause_waits_until_resumed_from_another_thread(tmp_path: Path) -> None:
    script = Script()
    script.at(2, "pause")
    t = trainer(script, spec(epochs=1), tmp_path)
    done = threading.Event()

    def run_then_signal() -> None:
        t.run()
        done.set()

    thread = threading.Thread(target=run_then_signal)
    thread.start()
    for _ in range(200):
        if t.progress().paused:
            break
        threading.Event().wait(0.01)
    assert t.progress().paused and t.state.step == 2
    assert not done.wait(0.1)
    script.at(0, "resume")
    thread.join(30)
    assert done.is_set() and t.state.step > 2


def test_seed_enable_disable_and_registry_reset(tmp_path: Path) -> None:
    script = Script()
    bad_slot = script.at(1, "seed_enable", slot="nope", blueprint="low_rank")
    bad_bp = script.at(1, "seed_enable", slot="block0", blueprint="nope")
    wrong_kind = script.at(1, "seed_enable", slot="block0", blueprint="conv3x3")
    ok = script.at(1, "seed_enable", slot="block0", blueprint="low_rank")
    busy = script.at(1, "seed_enable", slot="block0", blueprint="residual_mlp")
    disable = script.at(4, "seed_disable", seed_id="seed-1")
    embargoed = script.at(5, "seed_enable", slot="block0", blueprint="low_rank")
    unknown_seed = script.at(5, "seed_disable", seed_id="seed-99")
    reset = script.at(6, "registry_reset")
    unknown = script.at(6, "frobnicate")
    _, outcome = run(script, spec(morphogenesis={"enabled": False}), tmp_path)
    assert outcome.state == "completed", outcome.error
    assert script.ack_for(bad_slot)[:2] == ("rejected", script.ack_for(bad_slot)[1])
    assert "unknown slot" in (script.ack_for(bad_slot)[1] or "")
    assert "unknown blueprint" in (script.ack_for(bad_bp)[1] or "")
    assert "does not fit" in (script.ack_for(wrong_kind)[1] or "")
    state, _, result = script.ack_for(ok)
    assert state == "applied" and result["seed_id"] == "seed-1"
    assert "busy" in (script.ack_for(busy)[1] or "")
    assert script.ack_for(disable)[0] == "applied"
    assert "embargoed" in (script.ack_for(embargoed)[1] or "")
    assert script.ack_for(unknown_seed)[0] == "rejected"
    assert script.ack_for(reset)[0] == "applied"
    assert script.ack_for(unknown)[0] == "rejected"
    changes = [
        (p["attrs"]["from"], p["attrs"]["to"])
        for p in script.named("kasmina.seed.stage_changed")
    ]
    assert ("DORMANT", "GERMINATED") in changes and ("TRAINING", "CULLED") in changes
    assert script.named("kasmina.registry_reset")
    assert len(script.acks) == 10


def test_halt_mid_step_stops_within_one_step(tmp_path: Path) -> None:
    script = Script()
    seen: dict[str, int] = {}

    def emit(packet: dict[str, object]) -> None:
        script.packets.append(packet)
        # Arrives while step 4 is being computed (during its first micro-batch's
        # telemetry of step 3 the flag is set; the engine must not update again).
        if packet["name"] == "tolaria.step.latency_ms" and packet["step"] == 3:
            seen["arrival"] = 3
            script.hooks.halt_info["reason"] = "test halt"
            script.hooks.halt.set()

    script.hooks.emit = emit
    t, outcome = run(script, spec(epochs=2, micro_batches=4), tmp_path)
    assert outcome.state == "halted" and outcome.halt_reason == "test halt"
    assert outcome.result["last_step"] - seen["arrival"] <= 1
    assert outcome.result["steps_after_halt"] == 0
    assert script.checkpoints[-1].step == t.state.step


def test_halt_set_between_micro_batches_prevents_the_update(tmp_path: Path) -> None:
    from tests.unit.engine import user_task

    script = Script()
    # micro_batches=2: calls 1-2 are step 1, 3-4 step 2, 5 is step 3's first half.
    user_task.HALT.update(event=script.hooks.halt, at_call=5, calls=0)
    t, outcome = run(
        script,
        spec(
            task="tests.unit.engine.user_task:halting_factory",
            micro_batches=2,
            batch_size=32,
        ),
        tmp_path,
    )
    assert outcome.state == "halted"
    assert t.state.step == 2 and outcome.result["steps_after_halt"] == 0
    assert user_task.HALT["calls"] == 5  # the second half never ran


def test_emergency_halt_command_goes_straight_to_l4(tmp_path: Path) -> None:
    script = Script()
    cid = script.at(2, "emergency_halt", reason="operator says stop")
    _, outcome = run(script, spec(epochs=2), tmp_path)
    assert outcome.state == "halted" and outcome.halt_reason == "operator says stop"
    assert outcome.result["last_step"] == 2
    assert script.ack_for(cid)[0] == "applied"
    assert script.named("tolaria.emergency.halt")[0]["level"] == "critical"


def test_a_command_arriving_at_the_epoch_end_is_applied_before_validation(
    tmp_path: Path,
) -> None:
    script = Script()
    t = trainer(script, spec(epochs=1), tmp_path)
    t._setup()
    evaluate = t.evaluate
    acked_before_validation: list[bool] = []

    def watched_evaluate() -> tuple[float, float]:
        acked_before_validation.append(bool(script.acks))
        return evaluate()

    t.evaluate = watched_evaluate  # type: ignore[method-assign]
    cid = script.at(0, "registry_reset")
    t._end_epoch(samples_per_s=0.0)
    t._close()
    assert script.ack_for(cid)[0] == "applied"
    assert acked_before_validation[0] is True


def test_the_loss_history_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("workers.engine.step_metrics.LOSS_HISTORY", 5)
    t, outcome = run(Script(), spec(epochs=1, max_steps=23), tmp_path)
    assert outcome.state == "completed" and t.state.step == 23
    assert 5 <= len(t.metrics.losses) <= 10  # trimmed back to 5 whenever it passes 10
