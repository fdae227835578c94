"""The CUDA path's deferred reads, exercised on the CPU: losses, accuracy and
the gradient norm are read back in batches, seeds' gate signals stay tensors
until a gate decides, and a seed still completes its lifecycle."""

from pathlib import Path
from typing import Any

from tests.unit.engine.helpers import Script, growth_spec, spec
from workers.engine.options import EngineOptions
from workers.engine.trainer import Trainer


def _run(run_spec: Any, tmp_path: Path) -> tuple[Script, Trainer, Any]:
    script = Script()
    # CPU tensors, but every code path the trainer takes on CUDA: figures read
    # back in batches, G1 judged one check later.
    trainer = Trainer(
        run_spec,
        script.hooks,
        run_id="deferred",
        checkpoint_dir=tmp_path,
        options=EngineOptions(deferred_reads=True),
    )
    script.trainer = trainer
    return script, trainer, trainer.run()


def test_deferred_metrics_arrive_for_every_step(tmp_path: Path) -> None:
    script, trainer, outcome = _run(spec(epochs=2), tmp_path)
    assert outcome.state == "completed", outcome.error
    steps = [p["step"] for p in script.named("tolaria.training.loss")]
    assert steps == list(range(1, trainer.state.step + 1))
    assert script.named("tolaria.grad_norm")
    accuracy = script.named("tolaria.training.accuracy")
    assert [p["step"] for p in accuracy] == list(range(10, trainer.state.step + 1, 10))
    assert all(0 <= p["value"] <= 1 for p in accuracy)


def test_deferred_gate_signals_let_a_seed_grow(tmp_path: Path) -> None:
    run_spec = growth_spec()
    script, _, outcome = _run(run_spec, tmp_path)
    assert outcome.state == "completed", outcome.error
    stages = [
        p["attrs"]["to"]
        for p in script.named("kasmina.seed.stage_changed")
        if p["attrs"]["seed_id"] == "seed-1"
    ]
    assert stages[:3] == ["GERMINATED", "TRAINING", "BLENDING"], stages
    assert outcome.result["isolation_violations"] == 0
