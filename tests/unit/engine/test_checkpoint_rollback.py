"""Checkpoints, resume, rollback and the emergency ladder."""

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.unit.engine import user_task
from tests.unit.engine.helpers import Script, run, spec, trainer
from workers.engine import checkpoints as ckpt
from workers.engine.emergency import EmergencyLadder, Level
from workers.engine.options import EngineOptions


def test_checkpoint_is_atomic_and_checksummed(tmp_path: Path) -> None:
    w = torch.arange(10.0)
    state = {"w": w, "step": 3}
    ckpt_id, path, size = ckpt.write_checkpoint(tmp_path, state, step=3, epoch=0)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["id"] == ckpt_id and size > 0
    assert not list(tmp_path.glob(".tmp-*"))
    assert torch.equal(ckpt.load_checkpoint(path)["w"], w)
    with (path / "state.pt").open("r+b") as handle:
        handle.seek(-5, 2)
        handle.write(b"xxxxx")
    with pytest.raises(ckpt.CheckpointError, match="checksum"):
        ckpt.load_checkpoint(path)


def test_round_trip_resume_is_bitwise_identical(tmp_path: Path) -> None:
    """Resume from epoch 1's checkpoint: same parameters, same next losses."""
    run_spec = spec(epochs=2, morphogenesis={"enabled": False})
    script = Script()
    script.at(2, "seed_enable", slot="block1", blueprint="residual_mlp")
    first, outcome = run(script, run_spec, tmp_path / "a")
    assert outcome.state == "completed"
    epoch1 = next(c for c in script.checkpoints if c.epoch == 1)
    steps_epoch1 = epoch1.step

    resumed_script = Script()
    second = trainer(resumed_script, run_spec, tmp_path / "b", resume_from=epoch1.path)
    second._setup()
    state = ckpt.load_checkpoint(epoch1.path)
    for name, tensor in second.parts.model.state_dict().items():
        assert torch.equal(tensor, state["model"][name]), name
    assert (
        second.parts.seeds is not None
        and second.parts.seeds.slots["block1"].seed is not None
    )
    second._close()
    outcome2 = trainer(
        resumed_script, run_spec, tmp_path / "b", resume_from=epoch1.path
    ).run()
    assert outcome2.state == "completed", outcome2.error
    assert resumed_script.trainer is not None
    assert resumed_script.trainer.metrics.losses == first.metrics.losses[steps_epoch1:]


def test_resume_keeps_the_emergency_ladders_reference_losses(tmp_path: Path) -> None:
    """The ladder judges explosions against a floor from the run's first loss;
    a resumed run that forgot it read a nearly-fitted run's noise as
    explosions and halted (seen on resumed digits runs)."""
    script = Script()
    first, outcome = run(script, spec(epochs=2), tmp_path / "a")
    assert outcome.state == "completed"
    epoch1 = next(c for c in script.checkpoints if c.epoch == 1)
    resumed = trainer(Script(), spec(epochs=2), tmp_path / "b", resume_from=epoch1.path)
    resumed._setup()
    try:
        ladder = resumed.guard.ladder
        assert ladder.first_loss == first.guard.ladder.first_loss is not None
        assert ladder.first_loss == pytest.approx(first.metrics.losses[0])
        assert ladder.loss_ewma is not None
    finally:
        resumed._close()


def test_rollback_restores_a_chosen_snapshot(tmp_path: Path) -> None:
    script = Script()
    t = trainer(script, spec(epochs=1), tmp_path)
    t._setup()
    before = {k: v.clone() for k, v in t.parts.model.state_dict().items()}
    batches = t._epoch_batches()
    for index in batches[:3]:
        assert t._train_step(index)
    assert not torch.equal(
        before["blocks.0.0.weight"], t.parts.model.state_dict()["blocks.0.0.weight"]
    )
    result = t.rollback("snap-0", reason="test")
    assert result["source"] == "memory" and result["restored_step"] == 0
    for name, tensor in t.parts.model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert t.parts.optimizer.state == {} or all(
        float(s["step"]) == 0 for s in t.parts.optimizer.state.values()
    )
    assert script.named("tolaria.rollback.restored")
    with pytest.raises(LookupError):
        t.rollback("snap-999", reason="test")
    t._close()


def test_a_late_restore_escalates_but_keeps_the_state_asked_for(
    tmp_path: Path,
) -> None:
    """A restore over the deadline is a failure on the ladder (L3), but the
    state the operator asked for stays: no further rollback to an older one
    (which, timed against the same deadline, would feed itself), and the
    sixth late restore in the window still halts the run."""
    script = Script()
    options = EngineOptions(rollback_deadline_ms=1e-6)
    t = trainer(script, spec(epochs=1), tmp_path, options=options)
    t._setup()
    batches = t._epoch_batches()
    for index in batches[:2]:
        assert t._train_step(index)
    t.recovery.snapshot(good=True)
    wanted = {k: v.clone() for k, v in t.parts.model.state_dict().items()}
    assert t._train_step(batches[2])
    result = t.rollback("snap-2", reason="operator rollback")
    assert result["restored_step"] == 2
    for name, tensor in t.parts.model.state_dict().items():
        assert torch.equal(tensor, wanted[name]), name
    assert len(script.named("tolaria.rollback.restored")) == 1  # no emergency one
    escalated = script.named("tolaria.emergency.escalated")
    assert [e["attrs"]["level"] for e in escalated] == [Level.CONSERVATIVE]
    assert not t.hooks.halt.is_set()
    for _ in range(5):
        t.rollback("snap-2", reason="operator rollback")
    assert len(script.named("tolaria.rollback.restored")) == 6
    assert script.named("tolaria.emergency.escalated")[-1]["attrs"]["name"] == "HALT"
    assert t.hooks.halt.is_set()
    t._close()


def test_operator_rollback_from_disk_checkpoint(tmp_path: Path) -> None:
    script = Script()
    cid = script.at(30, "rollback", checkpoint_id="ckpt-000000023")
    t, outcome = run(script, spec(epochs=2, batch_size=64), tmp_path)
    state, reason, result = script.ack_for(cid)
    assert state == "applied", reason
    assert result["restored_step"] == 23 and result["source"] in ("memory", "disk")
    missing = Script()
    bad = missing.at(2, "rollback", checkpoint_id="ckpt-404")
    run(missing, spec(), tmp_path / "m")
    assert missing.ack_for(bad)[0] == "rejected"


def test_nan_loss_escalates_and_rolls_back(tmp_path: Path) -> None:
    script = Script()

    def emit(packet: dict[str, object]) -> None:
        script.packets.append(packet)
        if packet["name"] == "tolaria.training.loss" and packet["step"] == 5:
            user_task.ARMED["nan"] = True

    script.hooks.emit = emit
    t, outcome = run(
        script,
        spec(task="tests.unit.engine.user_task:nan_factory", epochs=2, batch_size=32),
        tmp_path,
    )
    assert outcome.state == "completed", outcome.error
    escalations = script.named("tolaria.emergency.escalated")
    assert escalations and escalations[0]["attrs"]["level"] == Level.ELEVATED
    assert "non-finite" in escalations[0]["attrs"]["reason"]
    restored = script.named("tolaria.rollback.restored")
    assert restored and restored[0]["attrs"]["source"] == "memory"
    assert all(torch.isfinite(p).all() for p in t.parts.model.parameters())
    assert all(torch.isfinite(torch.tensor(v)) for v in t.metrics.losses)


def test_ladder_escalates_on_repeats_and_calms_down() -> None:
    ladder = EmergencyLadder()
    for step in range(1, 20):
        assert ladder.classify_loss(step, 1.0) is None
    first, again = ladder.classify_loss(20, 4.0), ladder.classify_loss(20, 4.0)
    assert again is not None and first == (Level.NOTICE, again[1])
    levels = [ladder.classify_loss(21 + i, float("nan")) for i in range(6)]
    assert [lv[0] for lv in levels if lv] == [
        Level.ELEVATED,
        Level.ELEVATED,
        Level.CONSERVATIVE,
        Level.CONSERVATIVE,
        Level.CONSERVATIVE,
        Level.HALT,
    ]
    explosion = ladder.classify_loss(500, 1000.0)
    assert explosion is not None and "explosion" in explosion[1]
    ladder.level = Level.CONSERVATIVE
    assert ladder.calm(10_000) and ladder.level == Level.NORMAL


def test_repeated_nan_halts_the_run(tmp_path: Path) -> None:
    script = Script()

    def emit(packet: dict[str, object]) -> None:
        script.packets.append(packet)
        if packet["name"] in ("tolaria.training.loss", "tolaria.rollback.restored"):
            user_task.ARMED["nan"] = True  # every step fails from now on

    script.hooks.emit = emit
    _, outcome = run(
        script,
        spec(task="tests.unit.engine.user_task:nan_factory", epochs=3, batch_size=32),
        tmp_path,
    )
    user_task.ARMED["nan"] = False
    assert outcome.state == "halted"
    assert "L4" in (outcome.halt_reason or "")


def test_a_nearly_fitted_run_does_not_mistake_a_hard_batch_for_an_explosion() -> None:
    from workers.engine.emergency import EmergencyLadder  # noqa: PLC0415

    ladder = EmergencyLadder()
    assert ladder.classify_loss(0, 2.3) is None
    for step in range(1, 400):  # the loss falls to ~0.001 (digits, long run)
        ladder.classify_loss(step, 0.001)
    assert ladder.classify_loss(400, 0.06) is None  # one hard batch: noise
    verdict = ladder.classify_loss(401, 5.0)  # above the starting loss: trouble
    assert verdict is not None and "explosion" in verdict[1]


def test_epoch_checkpoints_are_written_while_training_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-epoch checkpoints go to a writer thread (a slow disk here), training
    keeps stepping meanwhile, and every checkpoint is complete on disk at the end."""
    script = Script()
    writes: list[tuple[str, int, int]] = []  # (thread, step at start, at end)
    real_write = ckpt.write_checkpoint

    def slow_write(
        root: Path, state: dict[str, Any], *, step: int, epoch: int, good: bool = True
    ) -> tuple[str, Path, int]:
        assert script.trainer is not None
        started = script.trainer.state.step
        time.sleep(0.2)
        out = real_write(root, state, step=step, epoch=epoch, good=good)
        writes.append(
            (threading.current_thread().name, started, script.trainer.state.step)
        )
        return out

    monkeypatch.setattr(ckpt, "write_checkpoint", slow_write)
    _, outcome = run(script, spec(epochs=3, morphogenesis={"enabled": False}), tmp_path)
    assert outcome.state == "completed", outcome.error
    epoch_writes, final_write = writes[:-1], writes[-1]
    assert epoch_writes and all(n.startswith("checkpoint") for n, _, _ in epoch_writes)
    assert any(end > start for _, start, end in epoch_writes)
    assert not final_write[0].startswith("checkpoint")  # the run's end waits for it
    for info in script.checkpoints:
        assert ckpt.read_manifest(Path(info.path))["step"] == info.step


def test_a_full_rollback_cache_reuses_the_evicted_snapshots_memory() -> None:
    from workers.engine.rollback import FastRollbackCache

    w, opt = torch.zeros(1024), {"state": [torch.ones(4)], "lr": 0.1}
    live = {"w": w, "opt": opt}
    cache = FastRollbackCache(max_mb=2.5 * 4112 / 1024 / 1024)  # room for two
    first = cache.put("s1", 1, 0, live)
    cache.put("s2", 2, 0, live)
    assert first is not None
    storage = first.state["w"].data_ptr()
    w.fill_(3.0)
    opt["lr"] = 0.2
    third = cache.put("s3", 3, 0, live)
    assert third is not None and cache.ids() == ["s2", "s3"]
    assert third.state["w"].data_ptr() == storage  # s1's buffer, refilled
    assert torch.equal(third.state["w"], torch.full((1024,), 3.0))
    assert third.state["opt"]["lr"] == 0.2
    w.fill_(7.0)  # a copy, not a view of the live state
    assert torch.equal(third.state["w"], torch.full((1024,), 3.0))
    snap2 = cache.get("s2")
    assert snap2 is not None and torch.equal(snap2.state["w"], torch.zeros(1024))


def test_the_rollback_cache_keeps_at_most_max_count_snapshots() -> None:
    from workers.engine.rollback import FastRollbackCache

    live = {"w": torch.zeros(256)}
    cache = FastRollbackCache(max_mb=64, max_count=3)
    first = cache.put("s1", 1, 0, live)
    assert first is not None
    for step in range(2, 6):
        live["w"].fill_(float(step))
        cache.put(f"s{step}", step, 0, live)
    assert cache.ids() == ["s3", "s4", "s5"]
    newest = cache.get()
    assert newest is not None
    assert torch.equal(newest.state["w"], torch.full((256,), 5.0))
