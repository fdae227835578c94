"""The seed manager over several ranks, with a fake collective standing in for
the others: the probe's loss is the global batch's mean, G1 judges the worst
isolation sample of any rank, and one rank alone does no collective at all."""

from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from api_schemas.enums import SeedStage
from workers.engine.blueprints import BlueprintCache
from workers.engine.seeds.agreement import agree_sample
from workers.engine.seeds.gates import GateConfig
from workers.engine.seeds.isolation import IsolationSample
from workers.engine.seeds.manager import SeedManager
from workers.engine.seeds.slot import SeedSlot, find_slots
from workers.engine.telemetry import Telemetry

S = SeedStage


class FakePeers:
    """Rank 0 of `world`; each all_reduce folds in what the other ranks would
    contribute (queued by the test) and records the reduction."""

    def __init__(self, world: int, peers: list[Tensor] | None = None) -> None:
        self.rank = 0
        self.world = world
        self.peers = list(peers or [])
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def shard(self, t: Tensor) -> Tensor:
        return t[self.rank :: self.world]

    def all_reduce(self, t: Tensor, op: str = "sum") -> Tensor:
        self.calls.append((op, tuple(t.shape)))
        peer = self.peers.pop(0).to(t.dtype)
        return t.add_(peer) if op == "sum" else torch.maximum(t, peer, out=t)

    def control_reduce(self, t: Tensor, op: str = "sum") -> Tensor:
        raise AssertionError("the seed manager never uses the control group")

    def broadcast(self, payload: object) -> object:
        raise AssertionError("the seed manager never broadcasts")

    def barrier(self) -> None:
        raise AssertionError("the seed manager never waits at a barrier")


@pytest.fixture
def cache() -> Iterator[BlueprintCache]:
    built = BlueprintCache()
    yield built
    built.close()


def training_seed(
    cache: BlueprintCache,
    peers: FakePeers,
    packets: list[dict[str, Any]] | None = None,
) -> tuple[nn.Module, SeedManager, SeedSlot]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), SeedSlot("block1", (8,)), nn.Linear(8, 3))
    seeds = SeedManager(
        find_slots(model),
        config=GateConfig(),
        cache=cache,
        device="cpu",
        telemetry=Telemetry((packets if packets is not None else []).append),
        host_params=10_000,
        collective=peers,
    )
    assert seeds.germinate("block1", "residual_mlp", forced=True).passed
    slot = seeds.slots["block1"]
    slot.set_stage(S.TRAINING)
    seeds._refresh_active()
    return model, seeds, slot


def test_the_probe_loss_is_the_global_batch_mean(cache: BlueprintCache) -> None:
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    loss_fn = nn.functional.cross_entropy
    peers = FakePeers(world=2)
    model, seeds, slot = training_seed(cache, peers)
    with torch.no_grad():
        slot.force_full = True
        full = loss_fn(model(x), y).item()  # what one process would measure
        # Rank 1's share (samples 1 and 3): its mean times its count.
        peers.peers.append(loss_fn(model(x[1::2]), y[1::2]).double() * 2)
        slot.force_full = False
    seeds.probe(model, x, y, loss_fn, host_loss=0.7)
    assert peers.calls == [("sum", ())]  # one float64 scalar, summed
    assert seeds.state()["signals"]["block1"]["probe"] == [pytest.approx(full)]
    assert seeds.state()["signals"]["block1"]["host"] == [0.7]


def test_agreement_takes_the_worst_sample_of_any_rank() -> None:
    def agreed(local: IsolationSample | None, peer: list[float]) -> object:
        peers = FakePeers(world=2, peers=[torch.tensor(peer)])
        sample = agree_sample(local, peers, "cpu")
        assert peers.calls == [("max", (3,))]
        return None if sample is None else (sample.max_abs_diff, sample.input_detached)

    # (present, max_abs_diff, input attached) from the other rank
    assert agreed(None, [0.0, 0.0, 0.0]) is None  # no rank sampled
    assert agreed(None, [1.0, 0.25, 0.0]) == (0.25, True)  # only the peer did
    assert agreed(IsolationSample(0.5, True), [1.0, 0.25, 0.0]) == (0.5, True)
    assert agreed(IsolationSample(0.0, True), [1.0, 0.0, 1.0]) == (0.0, False)


def test_g1_culls_on_every_rank_when_one_saw_a_violation(
    cache: BlueprintCache,
) -> None:
    peers = FakePeers(world=2, peers=[torch.tensor([1.0, 0.5, 0.0])])
    packets: list[dict[str, Any]] = []
    _, seeds, slot = training_seed(cache, peers, packets)
    for p in slot.seed_parameters():
        p.grad = torch.ones_like(p)  # healthy here: only the peer's sample fails
    seeds.after_backward(seeds.config.g1_check_every)
    assert peers.calls == [("max", (3,))]
    assert seeds.monitor.violations == 1
    (violation,) = [p for p in packets if p["name"] == "kasmina.isolation.violation"]
    assert violation["level"] == "critical"
    assert violation["attrs"]["slot"] == "block1"
    assert violation["attrs"]["max_abs_diff"] == 0.5
    assert slot.stage is S.EMBARGOED and seeds.counts["culled"] == 1


def test_one_rank_does_no_collective(cache: BlueprintCache) -> None:
    peers = FakePeers(world=1)
    model, seeds, slot = training_seed(cache, peers)
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    for p in slot.seed_parameters():
        p.grad = torch.ones_like(p)
    seeds.probe(model, x, y, nn.functional.cross_entropy, host_loss=0.7)
    seeds.after_backward(seeds.config.g1_check_every)
    assert peers.calls == []
    assert slot.stage is S.TRAINING
