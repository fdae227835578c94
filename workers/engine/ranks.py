"""The pieces of a DDP run below the trainer: a rank's identity and process
group, batch sharding, the seed manager and policy that agree across ranks,
and the barrier that lets ranks leave together (see distributed.py)."""

from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from workers.engine.policy.base import Decision, PolicyInputs
from workers.engine.policy.tamiyo import Tamiyo
from workers.engine.seeds.isolation import IsolationSample
from workers.engine.seeds.manager import SeedManager
from workers.engine.seeds.slot import SeedSlot


@dataclass(frozen=True)
class RankInfo:
    """Where this process sits in the group and how the group meets."""

    rank: int
    world: int
    init_method: str  # file://... (one host) or tcp://host:port
    backend: str = "gloo"  # gloo on CPU, nccl on CUDA
    timeout_s: float = 300.0


def join_group(info: RankInfo, device: str) -> Any:
    """Initialise the default group; returns the control group (None: default).

    With NCCL the control collective runs on a separate gloo group over CPU
    tensors, so reading the halt flag never waits for the GPU's queue.
    """
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    dist.init_process_group(
        info.backend,
        init_method=info.init_method,
        rank=info.rank,
        world_size=info.world,
        timeout=timedelta(seconds=info.timeout_s),
    )
    if info.backend == "gloo":
        return None
    return dist.new_group(backend="gloo", timeout=timedelta(seconds=info.timeout_s))


def shard(t: Tensor, rank: int, world: int) -> Tensor:
    """This rank's strided share of a global batch (DistributedSampler-style)."""
    return t[rank::world]


class DistributedSeedManager(SeedManager):
    """Kasmina with the per-rank signals the gates read made identical."""

    def probe(
        self, model: Any, x: Tensor, y: Tensor, loss_fn: Any, host_loss: Any
    ) -> None:
        rank, world, total = dist.get_rank(), dist.get_world_size(), x.shape[0]

        def global_loss(logits: Tensor, target: Tensor) -> Tensor:
            local = torch.zeros((), device=logits.device, dtype=torch.float64)
            if target.shape[0]:
                local = loss_fn(logits, target).double() * target.shape[0]
            dist.all_reduce(local)
            return local / max(1, total)

        super().probe(
            model, shard(x, rank, world), shard(y, rank, world), global_loss, host_loss
        )

    def _check_g1(self, slot: SeedSlot) -> None:
        slot.last_sample = agree_sample(slot.last_sample, self.device)
        super()._check_g1(slot)


def agree_sample(
    sample: IsolationSample | None, device: str
) -> IsolationSample | None:
    """The worst isolation sample over the ranks, so G1 judges all alike."""
    local = [0.0, 0.0, 0.0]
    if sample is not None:
        local = [1.0, float(sample.max_abs_diff), float(not sample.input_detached)]
    figures = torch.tensor(local, dtype=torch.float64, device=device)
    dist.all_reduce(figures, op=dist.ReduceOp.MAX)
    present, diff, attached = figures.tolist()
    return IsolationSample(diff, not attached) if present else None


class BroadcastTamiyo(Tamiyo):
    """Rank 0's Tamiyo: reviews a decision, then hands it to the trainer to be
    broadcast and carried out on every rank at the same step."""

    def __init__(self, *args: Any, defer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.defer = defer

    def _act(self, step: int, inputs: PolicyInputs, proposed: Decision) -> Decision:
        decision = self.risk.review(step, proposed)
        if decision.action == "wait":  # nothing changes on any rank: log it now
            return self.carry_out(step, inputs, proposed, decision)
        self.defer(step, inputs, proposed, decision)
        return decision


def settle_ranks(timeout_s: float = 10.0) -> None:
    """Let every rank leave its last collective before any tears the group down:
    a gloo peer that closes its connections first makes the others abort
    (SIGABRT, seen as a failed run at the very end). A monitored barrier, so a
    rank that already died costs `timeout_s`, not the group's 300 s timeout.
    """
    if dist.get_backend() != "gloo":
        return
    with suppress(RuntimeError):  # a peer is gone: tearing down is all that is left
        dist.monitored_barrier(timeout=timedelta(seconds=timeout_s))
