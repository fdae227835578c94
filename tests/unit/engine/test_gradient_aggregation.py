"""Gradient aggregation across seeds (workers/engine/seeds/gradient_aggregation.py):
PCGrad's projections on constructed conflicting gradients, the split of a
real model's gradient into the host's own part and each blended seed's, its
FLOPs, and a two-seed pcgrad run that trains and reports its figures."""

import random
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from api_schemas.enums import SeedStage
from api_schemas.runs import RunCreate
from tests.unit.engine.helpers import Script, run, spec
from workers.engine.compute import ComputeMeter
from workers.engine.hosts import MLPHost
from workers.engine.seeds.gradient_aggregation import (
    CONFLICTS,
    LAYER_NORM,
    SHARE,
    PCGradAggregator,
    decompose,
    pcgrad,
)
from workers.engine.seeds.slot import SeedInfo, SeedSlot, SeedWrapper, find_slots
from workers.engine.telemetry import Telemetry

S = SeedStage


def vec(*values: float) -> Tensor:
    return torch.tensor(values, dtype=torch.float32)


def test_conflicting_gradients_are_projected_as_in_the_paper() -> None:
    # g1 . g2 = -1 < 0: g1 loses its part along g2 and g2 its part along g1.
    (p1, p2), conflicts = pcgrad([vec(1, 0), vec(-1, 1)], random.Random(0))
    assert torch.allclose(p1, vec(0.5, 0.5)) and torch.allclose(p2, vec(0, 1))
    assert int(conflicts) == 2
    assert float(p1 @ vec(-1, 1)) == pytest.approx(0) == float(p2 @ vec(1, 0))
    assert torch.allclose(p1 + p2, vec(0.5, 1.5))  # the sum would be (0, 1)
    # g2 is projected against g1 as it came in, not against g1's projection
    # (against (0.5, 0.5) it would not conflict and stay (-1, 1)).


def test_agreeing_gradients_are_left_alone() -> None:
    grads = [vec(1, 0), vec(1, 1), vec(0, 2)]
    projected, conflicts = pcgrad(grads, random.Random(0))
    assert int(conflicts) == 0
    assert all(torch.equal(a, b) for a, b in zip(projected, grads, strict=True))


def plant(slot: SeedSlot, module: nn.Module, stage: SeedStage) -> None:
    slot.set_stage(S.DORMANT)
    slot.set_stage(S.GERMINATED)
    slot.info = SeedInfo(f"seed-{slot.name}", "linear", germinated_step=0)
    slot.attach(SeedWrapper(module, slot.channels))
    path = [S.TRAINING, S.BLENDING, S.SHADOWING, S.PROBATIONARY, S.FOSSILIZED]
    for step in path[: path.index(stage) + 1]:
        slot.set_stage(step)
    slot.alpha = 0.5


def grown_host() -> MLPHost:
    """6 -> 16 x3 -> 3: a fossilised seed (host) in block0, live blended
    seeds in block1 and block2."""
    torch.manual_seed(0)
    model = MLPHost(6, 16, 3, 3)
    slots = find_slots(model)
    for name, stage in (("block0", S.FOSSILIZED), ("block1", S.BLENDING)):
        plant(slots[name], nn.Sequential(nn.Linear(16, 16), nn.Tanh()), stage)
    plant(slots["block2"], nn.Linear(16, 16), S.SHADOWING)
    return model


def loss_of(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    loss: Tensor = nn.functional.cross_entropy(model(x), y)
    return loss


def test_the_parts_sum_to_the_plain_gradient() -> None:
    model = grown_host()
    aggregator = PCGradAggregator(model, list(find_slots(model).values()), _tm())
    params = [p for p in model.parameters() if p.requires_grad]
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    # The taps are there but not collecting: plain backpropagation.
    loss_of(model, x, y).backward()  # type: ignore[no-untyped-call]
    plain = [None if p.grad is None else p.grad.clone() for p in params]
    model.zero_grad(set_to_none=True)
    split = decompose(loss_of(model, x, y), aggregator.taps, params)
    assert split is not None
    base, parts = split
    assert [tap.slot.name for tap, _ in parts] == ["block1", "block2"]
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    for i, name in enumerate(names):
        pieces = [base[i]] + [grads[i] for _, grads in parts]
        reached = [g for g in pieces if g is not None]
        expected = plain[i]
        if expected is None:  # unused (a convex blend's channel scale)
            assert not reached, name
            continue
        total = torch.stack(reached).sum(dim=0)
        assert torch.allclose(total, expected, atol=1e-6), name
    block2 = dict(zip(names, parts[1][1], strict=True))
    # A seed's part reaches the host below it, never the head above it.
    assert block2["head.weight"] is None or not block2["head.weight"].any()
    assert block2["blocks.0.0.weight"] is not None
    assert block2["blocks.0.0.weight"].abs().sum() > 0


def test_the_step_writes_the_projected_sum() -> None:
    model = grown_host()
    aggregator = PCGradAggregator(model, list(find_slots(model).values()), _tm())
    params = [p for p in model.parameters() if p.requires_grad]
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    split = decompose(loss_of(model, x, y), aggregator.taps, params)
    assert split is not None
    flat = [
        torch.cat(
            [
                (g if g is not None else torch.zeros_like(p)).reshape(-1)
                for g, p in zip(part, params, strict=True)
            ]
        )
        for part in [split[0]] + [grads for _, grads in split[1]]
    ]
    aggregator.tm.step = 4  # this is step 5
    expected_parts, _ = pcgrad(flat[1:], random.Random(5))
    expected = flat[0] + sum(expected_parts)
    aggregator.backward(loss_of(model, x, y))
    aggregator.finish()
    written = torch.cat(
        [
            (torch.zeros_like(p) if p.grad is None else p.grad).reshape(-1)
            for p in params
        ]
    )
    assert torch.allclose(written, expected, atol=1e-6)
    # What no part reached keeps no gradient, as after a plain backward.
    assert sum(p.grad is None for p in params) == 3  # the channel scales


def test_fewer_than_two_blended_seeds_is_plain_backpropagation() -> None:
    model = grown_host()
    find_slots(model)["block2"].set_stage(S.CULLED)
    slots = list(find_slots(model).values())
    aggregator = PCGradAggregator(model, slots, _tm())
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    loss_of(model, x, y).backward()  # type: ignore[no-untyped-call]
    plain = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad(set_to_none=True)
    aggregator.backward(loss_of(model, x, y))
    aggregator.finish()
    got = [p.grad for p in model.parameters() if p.grad is not None]
    assert all(torch.equal(a, b) for a, b in zip(got, plain, strict=True))
    assert aggregator.decomposed_steps == 0


def test_the_extra_backwards_are_counted() -> None:
    """The meter's count for a pcgrad step is what the step runs: forward,
    the first backward and one backward per live blended seed."""
    model = grown_host()
    slots = find_slots(model)
    x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    plain_cost = ComputeMeter(_tm()).cost(model, slots, x)
    aggregator = PCGradAggregator(model, list(slots.values()), _tm())
    cost = ComputeMeter(_tm()).cost(model, slots, x)
    assert cost.aggregation > 0 and cost.total == plain_cost.total + cost.aggregation
    counter = FlopCounterMode(display=False)
    with counter:
        out = model(x)
        aggregator.backward(out.sum())
        aggregator.finish()
    assert cost.total == counter.get_total_flops()
    del y


def test_pcgrad_is_one_device_only() -> None:
    with pytest.raises(ValidationError, match="one device"):
        RunCreate(
            task="digits",
            devices=2,
            morphogenesis={"gradient_aggregation": "pcgrad"},
        )


def _tm() -> Telemetry:
    return Telemetry(lambda packet: None)


def test_a_two_seed_pcgrad_run_trains_and_reports(tmp_path: Path) -> None:
    script = Script()
    script.at(1, "seed_enable", slot="block0", blueprint="residual_mlp")
    script.at(2, "seed_enable", slot="block1", blueprint="low_rank")
    morph = {
        "enabled": False,
        "gradient_aggregation": "pcgrad",
        "blend_steps": 30,
        "gates": {
            "min_training_steps": 5,
            "g2_window": 2,
            "probe_every": 1,
            "g2_tolerance": 10.0,
            "g2_max_harm": 10.0,
        },
    }
    run_spec = spec(epochs=2, model={"width": 16, "depth": 2}, morphogenesis=morph)
    t, outcome = run(script, run_spec, tmp_path)
    assert outcome.state == "completed", outcome.error
    aggregator = t.parts.fw.aggregator
    assert isinstance(aggregator, PCGradAggregator)
    # Both seeds blended from about step 10 to the end (46 steps).
    assert aggregator.decomposed_steps >= 20
    shares = script.named(SHARE)
    assert {p["attrs"]["slot"] for p in shares} == {"block0", "block1"}
    assert all(0.0 < p["value"] < 1.0 for p in shares)
    assert all(p["step"] % 10 == 0 for p in shares)
    assert script.named(CONFLICTS)
    layers = {p["attrs"]["layer"] for p in script.named(LAYER_NORM)}
    assert {"blocks.0.0", "blocks.1.0", "head", "slots.1.seed.body.body.0"} <= layers
    # The split's backwards are in the run's count.
    breakdowns = [p["attrs"] for p in script.named("tolaria.compute.step_flops")]
    assert any(b.get("aggregation", 0) > 0 for b in breakdowns)
    assert outcome.result["metrics"]["val_accuracy"] > 0.5
