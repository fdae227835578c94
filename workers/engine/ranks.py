"""The pieces of a DDP run below the strategy: a rank's identity, its process
group as the engine's `Collective`, batch sharding, and the barrier that lets
ranks leave together (see distributed.py)."""

from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from workers.engine.collective import ReduceOp


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


_OPS = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}


class ProcessGroup:
    """This rank's process group as the engine's `Collective`: data tensors
    reduce on the default group (NCCL on CUDA), control figures on a gloo
    group over CPU tensors."""

    def __init__(self, info: RankInfo) -> None:
        self.info = info
        self.rank, self.world = info.rank, info.world
        self._control: Any = None  # None: the default group (gloo runs)

    def join(self, device: str) -> None:
        self._control = join_group(self.info, device)

    def leave(self) -> None:
        if dist.is_initialized():
            settle_ranks()
            dist.destroy_process_group()

    def shard(self, t: Tensor) -> Tensor:
        return shard(t, self.rank, self.world)

    def all_reduce(self, t: Tensor, op: ReduceOp = "sum") -> Tensor:
        dist.all_reduce(t, op=_OPS[op])
        return t

    def control_reduce(self, t: Tensor, op: ReduceOp = "sum") -> Tensor:
        dist.all_reduce(t, op=_OPS[op], group=self._control)
        return t

    def broadcast(self, payload: Any) -> Any:
        box = [payload if self.rank == 0 else None]
        dist.broadcast_object_list(box, src=0, group=self._control)
        return box[0]

    def barrier(self) -> None:
        settle_ranks()
