"""The 1-D CNN host's (C, L) slots: isolation, blending, G0, and mnist1d."""

import random

import numpy as np
import pytest
import torch

from api_schemas.catalogue import BLUEPRINTS, task_slots
from api_schemas.enums import BlendMode, SeedStage
from api_schemas.runs import ModelOptions
from workers.engine.blueprints import build_seed, fits
from workers.engine.bundle import describe_host, rebuild, seed_records
from workers.engine.hosts import Conv1DHost
from workers.engine.seeds.blending import blend, confidence_gate
from workers.engine.seeds.slot import SeedInfo, SeedSlot
from workers.engine.tasks import TaskError, load_task, mnist1d_arrays

SEQUENCE_BLUEPRINTS = [b.name for b in BLUEPRINTS if "sequence" in b.slot_kinds]


def _slot(model: Conv1DHost, index: int) -> SeedSlot:
    slot = model.slots[index]
    assert isinstance(slot, SeedSlot)
    return slot


def _plant(slot: SeedSlot, blueprint: str, stage: SeedStage) -> None:
    slot.set_stage(SeedStage.DORMANT)
    slot.attach(build_seed(blueprint, slot.shape, "cpu", seed=1).module)
    slot.set_stage(SeedStage.GERMINATED)
    slot.set_stage(SeedStage.TRAINING)
    if stage is SeedStage.BLENDING:
        slot.set_stage(SeedStage.BLENDING)


def _host_grads(model: Conv1DHost, x: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    y = torch.arange(x.shape[0]) % 10
    # torch leaves Tensor.backward unannotated.
    torch.nn.functional.cross_entropy(model(x), y).backward()  # type: ignore[no-untyped-call]
    return {
        n: p.grad.clone()
        for n, p in model.named_parameters()
        if ".seed." not in n and p.grad is not None
    }


def test_conv1d_host_has_sequence_slots_and_reads_flat_inputs() -> None:
    model = Conv1DHost(1, 8, 3, 10, length=40)
    assert [_slot(model, i).shape for i in range(3)] == [(8, 20), (8, 10), (8, 10)]
    assert {_slot(model, i).kind for i in range(3)} == {"sequence"}
    x = torch.randn(4, 40)
    model.eval()
    torch.testing.assert_close(model(x), model(x.unsqueeze(1)))


@pytest.mark.parametrize("blueprint", SEQUENCE_BLUEPRINTS)
def test_every_sequence_blueprint_passes_the_g0_dry_run(blueprint: str) -> None:
    built = build_seed(blueprint, (8, 10), "cpu")
    assert built.dry_run_ok, built.dry_run_error
    assert built.module(torch.randn(3, 8, 10)).shape == (3, 8, 10)


def test_image_only_blueprints_do_not_fit_a_sequence_slot() -> None:
    by_name = {b.name: b for b in BLUEPRINTS}
    assert not fits(by_name["conv3x3"], (8, 10))
    assert not fits(by_name["residual_mlp"], (8, 10))
    assert fits(by_name["conv1d"], (8, 10)) and not fits(by_name["conv1d"], (8,))
    assert {"conv1d", "depthwise_separable_1d"} <= set(SEQUENCE_BLUEPRINTS)


@pytest.mark.parametrize("blueprint", ["conv1d", "depthwise_separable_1d", "low_rank"])
def test_training_seed_on_a_sequence_slot_is_isolated(blueprint: str) -> None:
    torch.manual_seed(0)
    model = Conv1DHost(1, 8, 2, 10, length=16)
    x = torch.randn(16, 16)
    with torch.no_grad():
        baseline_out = model(x)
    baseline = _host_grads(model, x)
    slot = _slot(model, 0)
    _plant(slot, blueprint, SeedStage.TRAINING)
    with torch.no_grad():
        # The same BatchNorm batch statistics: outputs equal bit for bit.
        assert torch.equal(model(x), baseline_out)
    with_seed = _host_grads(model, x)
    assert baseline.keys() == with_seed.keys()
    for name, grad in baseline.items():
        torch.testing.assert_close(with_seed[name], grad, atol=1e-6, rtol=0)
    grads = [p.grad for p in slot.seed_parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_channel_blending_on_a_sequence_slot_mixes_per_channel() -> None:
    h, s = torch.zeros(2, 3, 5), torch.ones(2, 3, 5)
    out = blend(BlendMode.channel, h, s, 1.0, torch.tensor([0.0, 0.5, 1.0]))
    assert out[:, 0].eq(0).all() and out[:, 1].eq(0.5).all() and out[:, 2].eq(1).all()
    gate = confidence_gate(torch.randn(4, 3, 5))
    assert gate.shape == (4,) and bool(((gate >= 0) & (gate <= 1)).all())


@pytest.mark.parametrize("mode", list(BlendMode))
def test_a_blending_seed_on_a_sequence_slot_trains_host_and_seed(
    mode: BlendMode,
) -> None:
    torch.manual_seed(0)
    model = Conv1DHost(1, 8, 2, 10, length=16)
    slot = _slot(model, 1)
    slot.blend_mode = mode
    _plant(slot, "conv1d", SeedStage.BLENDING)
    slot.alpha = 0.5
    grads = _host_grads(model, torch.randn(8, 16))
    assert grads["head.weight"].abs().sum() > 0
    seed = [p.grad for p in slot.seed_parameters() if p.grad is not None]
    assert seed and any(float(g.abs().sum()) > 0 for g in seed)


def test_mnist1d_builds_both_hosts_from_the_same_data() -> None:
    cpu = torch.device("cpu")
    mlp = load_task("mnist1d", ModelOptions(), 0, cpu)
    cnn = load_task("mnist1d", ModelOptions(options={"host": "cnn"}), 1, cpu)
    assert mlp.train_x.shape == (4000, 40) and mlp.val_x.shape == (1000, 40)
    # The validation set is the package's fixed test split, whatever the seed.
    assert torch.equal(mlp.val_x, cnn.val_x) and torch.equal(mlp.val_y, cnn.val_y)
    assert set(mlp.train_y.tolist()) == set(range(10))
    assert type(cnn.host).__name__ == "Conv1DHost"
    assert cnn.host(cnn.val_x[:4]).shape == (4, 10)
    assert task_slots("mnist1d", None) == ["block0", "block1"]
    assert task_slots("mnist1d", None, "cnn") == ["block0", "block1", "block2"]
    with pytest.raises(TaskError, match="host"):
        load_task("mnist1d", ModelOptions(options={"host": "rnn"}), 0, cpu)


def test_mnist1d_generation_leaves_the_global_rngs_as_they_were() -> None:
    mnist1d_arrays.cache_clear()
    random.seed(7)
    np.random.seed(7)
    expected = random.random(), float(np.random.rand())
    random.seed(7)
    np.random.seed(7)
    x, _, _, _ = mnist1d_arrays()
    assert (random.random(), float(np.random.rand())) == expected
    assert x.shape == (4000, 40) and not x.flags.writeable


def test_a_model_bundle_rebuilds_the_conv1d_host_with_its_seed() -> None:
    torch.manual_seed(0)
    model = Conv1DHost(1, 8, 2, 10, length=16)
    _plant(_slot(model, 0), "depthwise_separable_1d", SeedStage.BLENDING)
    _slot(model, 0).alpha = 0.25
    _slot(model, 0).info = SeedInfo("s1", "depthwise_separable_1d", 3)
    manifest = {
        "host": describe_host(model),
        "task": "mnist1d",
        "seeds": seed_records(model),
    }
    assert manifest["host"] == {
        "kind": "cnn1d",
        "args": {"in_ch": 1, "width": 8, "depth": 2, "classes": 10, "length": 16},
    }
    rebuilt = rebuild(manifest, dict(model.state_dict()))
    x = torch.randn(4, 16)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model.eval()(x))
