"""G1 with deferred read-back (the CUDA path, on CPU tensors): a failing
check culls the seed at the next check, not at once, and a reading still
pending when the seed leaves TRAINING is judged then."""

from pathlib import Path

import pytest
import torch

from api_schemas.enums import SeedStage
from tests.unit.engine.helpers import Script, growth_spec, trainer
from workers.engine.readback import Readback
from workers.engine.seeds.manager import SeedManager
from workers.engine.seeds.slot import SeedSlot


def training_seed(tmp_path: Path, defer: bool) -> tuple[SeedManager, SeedSlot]:
    t = trainer(Script(), growth_spec(), tmp_path)
    t._setup()
    seeds = t.parts.seeds
    assert seeds is not None
    seeds.defer_reads = defer
    name = next(iter(seeds.slots))
    assert seeds.germinate(name, "residual_mlp", forced=True).passed
    slot = seeds.slots[name]
    slot.set_stage(SeedStage.TRAINING)
    seeds._refresh_active()
    for p in slot.seed_parameters():
        p.grad = torch.zeros_like(p)  # a dead seed: G1 fails on a zero norm
    return seeds, slot


@pytest.mark.parametrize("defer", [False, True])
def test_a_failing_g1_culls_at_once_or_at_the_next_check(
    tmp_path: Path, defer: bool
) -> None:
    seeds, slot = training_seed(tmp_path, defer)
    every = seeds.config.g1_check_every
    seeds.after_backward(every)
    if defer:
        assert slot.stage is SeedStage.TRAINING and slot.g1_pending is not None
        seeds.after_backward(2 * every)
    assert slot.stage is SeedStage.EMBARGOED
    assert seeds.counts["culled"] == 1 and slot.g1_pending is None


def test_a_pending_reading_is_judged_when_the_seed_leaves_training(
    tmp_path: Path,
) -> None:
    seeds, slot = training_seed(tmp_path, defer=True)
    seeds.after_backward(seeds.config.g1_check_every)
    slot.set_stage(SeedStage.BLENDING)  # as G2 would move it
    seeds.after_backward(seeds.config.g1_check_every + 1)
    assert slot.stage is SeedStage.EMBARGOED  # culled on its last reading


def test_readback_mixes_floats_and_tensors() -> None:
    reading = Readback([1.5, torch.tensor(2.0), torch.tensor([3.0])])
    assert reading.values() == [1.5, 2.0, 3.0]
    assert Readback([0.0]).values() == [0.0]


def test_g2_signals_settle_one_decision_later() -> None:
    from workers.engine.seeds.signals import settle_signals, start_readback

    signals: dict[str, list[float | torch.Tensor]] = {
        "probe": [0.5, torch.tensor(0.4)],
        "host": [0.6, torch.tensor(0.7)],
    }
    first = start_readback(signals, "probe", "host")
    signals["probe"].append(torch.tensor(0.3))  # queued after the copy started
    signals["host"].append(torch.tensor(0.8))
    settle_signals(signals, first)
    assert signals["probe"][:2] == [0.5, pytest.approx(0.4)]
    assert signals["host"][:2] == [0.6, pytest.approx(0.7)]
    assert isinstance(signals["probe"][2], torch.Tensor)  # still in flight
    second = start_readback(signals, "probe", "host")
    settle_signals(signals, second)
    assert signals["probe"] == [0.5, pytest.approx(0.4), pytest.approx(0.3)]
    assert start_readback(signals, "probe", "host") is None  # nothing left
