"""A run started from another run's checkpoint (continue or fork): the grown
model, seeds and optimizer state come along; the position and the learning
rate are the new run's."""

from pathlib import Path

import torch

from tests.unit.engine.helpers import Script, run, spec, trainer
from workers.engine import checkpoints as ckpt


def _grown_checkpoint(tmp_path: Path) -> str:
    """A finished run with a seed germinated by the operator; its last checkpoint."""
    script = Script()
    script.at(2, "seed_enable", slot="block1", blueprint="residual_mlp")
    _, outcome = run(script, spec(epochs=2), tmp_path / "source")
    assert outcome.state == "completed", outcome.error
    return script.checkpoints[-1].path


def test_a_fork_starts_from_the_checkpoint_model_at_step_zero(tmp_path: Path) -> None:
    source = _grown_checkpoint(tmp_path)
    saved = ckpt.load_checkpoint(source)
    forked = trainer(
        Script(),
        spec(epochs=1, learning_rate=0.002),
        tmp_path / "fork",
        resume_from=source,
        fork=True,
    )
    forked._setup()
    try:
        assert forked.state.step == 0 and forked.state.epoch == 0
        for name, tensor in forked.parts.model.state_dict().items():
            assert torch.equal(tensor, saved["model"][name]), name
        assert forked.parts.seeds.slots["block1"].seed is not None  # the grown seed
        groups = forked.parts.optimizer.param_groups
        assert {g["lr"] for g in groups} == {0.002}
        assert forked.parts.optimizer.state  # Adam's moments came along
    finally:
        forked._close()


def test_a_fork_trains_its_own_epochs(tmp_path: Path) -> None:
    source = _grown_checkpoint(tmp_path)
    script = Script()
    forked, outcome = run(
        script, spec(epochs=1), tmp_path / "fork", resume_from=source, fork=True
    )
    assert outcome.state == "completed", outcome.error
    steps_per_epoch = forked.state.step
    assert outcome.result["epochs"] == 1 and steps_per_epoch > 0
    assert [p["attrs"]["fork"] for p in script.named("tolaria.resumed")] == [True]
