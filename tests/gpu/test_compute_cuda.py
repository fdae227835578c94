"""Compute accounting on CUDA: the same count as on the CPU, measured without
touching the device (no sync, no CUDA RNG draw, no BatchNorm update). CI is
CPU-only, so these skip there (`pytest tests/gpu -m gpu` on a GPU machine)."""

import warnings
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from tests.unit.engine.helpers import Script, spec
from tests.unit.engine.test_compute import ReadsAValue, linear_flops
from workers.engine.compute import STEP_FLOPS, measure
from workers.engine.trainer import Trainer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="CUDA is not available here (CI is CPU-only); run on a GPU machine",
    ),
]


def _train(device: str, tmp_path: Path, script: Script) -> dict[str, int]:
    run_spec = spec(task="spirals", epochs=2, model={"width": 16})
    trainer = Trainer(
        run_spec,
        script.hooks,
        run_id=f"flops-{device}",
        checkpoint_dir=tmp_path / device,
        device=device,
    )
    script.trainer = trainer
    outcome = trainer.run()
    assert outcome.state == "completed", outcome.error
    return outcome.result


def test_a_cuda_run_counts_what_a_cpu_run_counts(tmp_path: Path) -> None:
    on_cpu = _train("cpu", tmp_path, Script())
    script = Script()
    script.at(0, "seed_enable", slot="block0", blueprint="residual_mlp")
    on_cuda = _train("cuda", tmp_path, Script())
    assert on_cuda["train_flops"] == on_cpu["train_flops"] > 0
    seeded = _train("cuda", tmp_path / "seeded", script)
    assert seeded["train_flops"] > on_cpu["train_flops"]
    stages = [s["stage"] for p in script.named(STEP_FLOPS) for s in p["attrs"]["seeds"]]
    assert "TRAINING" in stages


def test_measuring_a_cuda_model_leaves_the_device_alone() -> None:
    model = nn.Sequential(
        nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 3)
    ).cuda()
    x: Tensor = torch.randn(4, 6, device="cuda")
    stats = [b.clone() for b in model.buffers()]
    rng = torch.cuda.get_rng_state()
    torch.cuda.synchronize()
    try:
        with warnings.catch_warnings():
            # Setting it warns once ("prototype feature"), which the project's
            # filterwarnings=error would turn into a failure.
            warnings.simplefilter("ignore")
            torch.cuda.set_sync_debug_mode("error")
        flops = measure(model, x, backward=True)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert flops == linear_flops(4, 6, 8, False) + linear_flops(4, 8, 3, True)
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(stats, model.buffers(), strict=True))
    assert torch.equal(torch.cuda.get_rng_state(), rng)


def test_a_value_reading_forward_falls_back_to_cuda_cleanly() -> None:
    model = ReadsAValue().cuda()
    x = torch.randn(6, 5, device="cuda")
    rng = torch.cuda.get_rng_state()
    assert measure(model, x, backward=True) == linear_flops(6, 5, 4, False)
    assert model.layer.weight.grad is None
    assert torch.equal(torch.cuda.get_rng_state(), rng)
