"""The engine on CUDA: it learns, it grows seeds, and it does not synchronise
with the device every step. CI is CPU-only, so these skip there (run them on
a GPU machine: `pytest tests/gpu -m gpu`)."""

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.unit.engine.helpers import Script, growth_spec, spec
from workers.engine.options import EngineOptions
from workers.engine.trainer import Trainer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="CUDA is not available here (CI is CPU-only); run on a GPU machine",
    ),
]


def _run(script: Script, run_spec: Any, tmp_path: Path, **options: Any) -> Any:
    trainer = Trainer(
        run_spec,
        script.hooks,
        run_id="gpu-test",
        checkpoint_dir=tmp_path / "ckpt",
        device="cuda",
        options=EngineOptions(**options),
    )
    script.trainer = trainer
    return trainer, trainer.run()


def test_cuda_run_learns_without_per_step_sync(tmp_path: Path) -> None:
    steps = 240
    run_spec = spec(
        task="digits",
        epochs=1000,
        max_steps=steps,
        batch_size=128,
        model={"width": 128},
        checkpoint_every=10**6,
    )
    script = Script()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Inside: setting it warns once ("prototype feature"), which the
            # project's filterwarnings=error would otherwise turn into a failure.
            torch.cuda.set_sync_debug_mode("warn")
            trainer, outcome = _run(script, run_spec, tmp_path)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert outcome.state == "completed", outcome.error
    losses = trainer.metrics.losses
    assert len(losses) == steps
    assert sum(losses[-20:]) / 20 < 0.5 * sum(losses[:20]) / 20
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    # Allowed: one read per 20 steps, per epoch (validation, the epoch's
    # permutation) and the final checkpoint; a per-step sync would be >= 240.
    epochs = trainer.state.epoch + 1
    budget = steps // trainer.parts.sync_every + 4 * epochs + 40
    assert len(syncs) <= budget, (len(syncs), budget, str(syncs[0].message))
    assert trainer.parts.fw.autocast == (torch.cuda.get_device_capability()[0] >= 8)


def test_cuda_seed_completes_its_lifecycle(tmp_path: Path) -> None:
    script = Script()
    run_spec = growth_spec()
    trainer, outcome = _run(script, run_spec, tmp_path)
    assert outcome.state == "completed", outcome.error
    stages = [
        p["attrs"]["to"]
        for p in script.named("kasmina.seed.stage_changed")
        if p["attrs"]["seed_id"] == "seed-1"
    ]
    # G2 reads its probe losses from the device: it must still decide.
    why = [
        (p["step"], p["attrs"].get("reason"))
        for p in script.named("kasmina.seed.stage_changed")
        + script.named("kasmina.gate_failure")
    ]
    assert "BLENDING" in stages, (stages, why, trainer.state.step)
    assert outcome.result["isolation_violations"] == 0


def test_cuda_out_of_memory_fails_the_run_with_a_reason(tmp_path: Path) -> None:
    run_spec = spec(task="tests.gpu.oom_task:factory", epochs=1, batch_size=32)
    script = Script()
    _, outcome = _run(script, run_spec, tmp_path)
    assert outcome.state == "failed"
    assert "CUDA out of memory" in (outcome.error or ""), outcome.error
    # The device is still usable afterwards: the worker stays healthy.
    assert float(torch.ones(4, device="cuda").sum()) == 4.0


HOST_TASK = "tests.unit.engine.user_task:host_factory"


@contextlib.contextmanager
def _sync_debug(mode: str) -> Iterator[list[warnings.WarningMessage]]:
    """`torch.cuda.set_sync_debug_mode(mode)` for the block, its warnings
    recorded (setting the mode warns once, "prototype feature")."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode(mode)
        try:
            yield caught
        finally:
            torch.cuda.set_sync_debug_mode(0)


def test_cuda_host_task_trains_from_pinned_memory(tmp_path: Path) -> None:
    """A `resident=False` user task: its training set stays pinned on the host,
    it learns like the resident task, and its copies add no host syncs."""
    # 192 samples in batches of 8: 24 steps an epoch.
    run_spec = spec(task=HOST_TASK, epochs=10, batch_size=8, checkpoint_every=10**6)
    counts, losses = [], []
    for task in (HOST_TASK, "tests.unit.engine.user_task:factory"):
        with _sync_debug("warn") as caught:
            trainer, outcome = _run(
                Script(),
                run_spec.model_copy(update={"task": task}),
                tmp_path / task.rsplit(":")[-1],
            )
        assert outcome.state == "completed", outcome.error
        counts.append(sum("synchroniz" in str(w.message) for w in caught))
        losses.append(trainer.metrics.losses)
        if task == HOST_TASK:
            data = (trainer.parts.task.train_x, trainer.parts.task.train_y)
            assert all(t.device.type == "cpu" and t.is_pinned() for t in data)
    host, resident = losses
    assert len(host) == 240 and sum(host[-24:]) < 0.7 * sum(host[:24])
    assert host == pytest.approx(resident, rel=1e-3, abs=1e-4)
    assert counts[0] <= counts[1], counts  # the feeder adds no syncs


def test_cuda_host_task_steps_never_sync(tmp_path: Path) -> None:
    """The training steps themselves, under the strictest sync check: fewer
    steps than `sync_every`, so no loss read-back is due among them."""
    trainer = Trainer(
        spec(task=HOST_TASK, batch_size=8),
        Script().hooks,
        run_id="gpu-test",
        checkpoint_dir=tmp_path / "ckpt",
        device="cuda",
    )
    trainer._setup()
    try:
        batches = trainer._epoch_batches()[: trainer.parts.sync_every - 1]
        with _sync_debug("error"):  # any sync raises
            for index in batches:
                assert trainer._train_step(index)
        trainer.metrics.flush()
        assert len(trainer.metrics.losses) == len(batches)
        x, y = trainer.parts.task.train_x, trainer.parts.task.train_y
        feeder = trainer.parts.data.feeder
        assert feeder is not None
        for index in batches:  # the feeder's copies hold the right rows
            xb, yb = feeder.take(index)
            assert torch.equal(xb.cpu(), x[index]) and torch.equal(yb.cpu(), y[index])
    finally:
        trainer._close()
