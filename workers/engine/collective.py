"""What the ranks of one run share, as a small interface the engine calls.

One process is the trivial case (`SOLO`: every operation is the identity), so
the trainer, the seed manager and the policy are written once; a DDP run passes
its process group's implementation (workers/engine/ranks.py) instead. The
engine never asks which one it has, except through `world`.
"""

from typing import Any, Literal, Protocol

from torch import Tensor

ReduceOp = Literal["sum", "max"]


class Collective(Protocol):
    """A group of ranks training one model, each on its share of a batch."""

    @property
    def rank(self) -> int: ...

    @property
    def world(self) -> int: ...

    def shard(self, t: Tensor) -> Tensor:
        """This rank's share of a global batch."""
        ...

    def all_reduce(self, t: Tensor, op: ReduceOp = "sum") -> Tensor:
        """Reduce `t` in place over the ranks (on its own device); returns it."""
        ...

    def control_reduce(self, t: Tensor, op: ReduceOp = "sum") -> Tensor:
        """The same over the control group: CPU tensors, never behind the GPU."""
        ...

    def broadcast(self, payload: Any) -> Any:
        """Rank 0's `payload` on every rank (the argument is ignored elsewhere)."""
        ...

    def barrier(self) -> None:
        """Until every rank got here (bounded: a dead peer ends the wait)."""
        ...


class Solo:
    """One process: the collective of a single rank."""

    rank = 0
    world = 1

    def shard(self, t: Tensor) -> Tensor:
        return t

    def all_reduce(self, t: Tensor, op: ReduceOp = "sum") -> Tensor:
        return t

    def control_reduce(self, t: Tensor, op: ReduceOp = "sum") -> Tensor:
        return t

    def broadcast(self, payload: Any) -> Any:
        return payload

    def barrier(self) -> None:
        return None


SOLO = Solo()
