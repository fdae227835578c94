"""Tolaria's fast rollback cache: recent snapshots in memory, bounded in MB.

A snapshot is a detached copy of the training state (model, optimizer, seed
registry). Restoring is a set of tensor copies, so it runs at memory bandwidth;
the trainer times it against the rollback deadline.
"""

from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._pytree import tree_map


def _map_tensors(fn: Callable[[torch.Tensor], torch.Tensor], obj: Any) -> Any:
    """`obj` with every tensor inside its dicts, lists and tuples replaced."""
    return tree_map(lambda v: fn(v) if isinstance(v, torch.Tensor) else v, obj)


def clone_state(obj: Any) -> Any:
    """Deep copy with tensors cloned (contiguous, same device)."""
    return _map_tensors(lambda t: t.detach().clone(), obj)


def host_copy(obj: Any) -> Any:
    """Deep copy with every tensor copied to host memory (a clone on CPU)."""
    return _map_tensors(lambda t: t.detach().to("cpu", copy=True), obj)


def same_layout(dst: Any, src: torch.Tensor) -> bool:
    """Whether `src` can be copied into `dst` in place."""
    return (
        isinstance(dst, torch.Tensor)
        and dst.shape == src.shape
        and dst.dtype == src.dtype
        and dst.device == src.device
    )


def copy_state_into(buffers: Any, obj: Any) -> Any:
    """`clone_state(obj)`, reusing `buffers` (an evicted snapshot's state) where
    a tensor of the same shape, dtype and device sits at the same place: a copy
    into memory already touched, rather than a fresh allocation whose pages the
    kernel must fault in one by one (most of a CPU snapshot's cost)."""
    if isinstance(obj, torch.Tensor):
        if same_layout(buffers, obj):
            return buffers.copy_(obj.detach())
        return obj.detach().clone()
    if isinstance(obj, dict):
        old = buffers if isinstance(buffers, dict) else {}
        return {k: copy_state_into(old.get(k), v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        old_items = buffers if isinstance(buffers, list | tuple) else ()
        items = [
            copy_state_into(old_items[i] if i < len(old_items) else None, v)
            for i, v in enumerate(obj)
        ]
        return items if isinstance(obj, list) else tuple(items)
    return obj


class BatchedCopies:
    """Restore copies gathered first and made in one `_foreach_copy_` call:
    one dispatch for all the tensors rather than one each, which was most of
    a small model's restore time."""

    def __init__(self) -> None:
        self.dst: list[torch.Tensor] = []
        self.src: list[torch.Tensor] = []

    def into(self, dst: Any, src: Any) -> Any:
        """What the live value becomes: `dst`, overwritten with `src` at
        `run()` when they match; else a clone of `src` (or `src` itself when
        it is not a tensor)."""
        if not isinstance(src, torch.Tensor):
            return src
        if not same_layout(dst, src):
            return src.detach().clone()
        self.dst.append(dst)
        self.src.append(src.detach())
        return dst

    def run(self) -> None:
        if self.dst:
            with torch.no_grad():
                torch._foreach_copy_(self.dst, self.src)
        self.dst, self.src = [], []


def state_bytes(obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(state_bytes(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(state_bytes(v) for v in obj)
    return 0


@dataclass
class Snapshot:
    id: str
    step: int
    epoch: int
    good: bool
    state: dict[str, Any]
    bytes: int


class FastRollbackCache:
    """Newest-last snapshots; the oldest are evicted past `max_mb` or past
    `max_count` snapshots. The count bound keeps a small model's cache from
    holding hundreds of snapshots: once it is reached every new snapshot is
    copied into the evicted one's warm buffers instead of fresh pages."""

    def __init__(self, max_mb: float = 256.0, max_count: int = 8) -> None:
        self.max_bytes = int(max_mb * 1024 * 1024)
        self.max_count = max(1, max_count)
        self._snapshots: deque[Snapshot] = deque()

    def put(
        self,
        snap_id: str,
        step: int,
        epoch: int,
        state: dict[str, Any],
        good: bool = True,
    ) -> Snapshot | None:
        """Store a copy of `state`; None when one snapshot alone exceeds the bound."""
        size = state_bytes(state)
        if size > self.max_bytes:
            return None
        evicted = None
        while self._snapshots and (
            self.total_bytes() + size > self.max_bytes
            or len(self._snapshots) >= self.max_count
        ):
            evicted = self._snapshots.popleft()
        buffers = evicted.state if evicted is not None else None
        snapshot = Snapshot(
            snap_id, step, epoch, good, copy_state_into(buffers, state), size
        )
        self._snapshots.append(snapshot)
        return snapshot

    def total_bytes(self) -> int:
        return sum(s.bytes for s in self._snapshots)

    def get(self, snap_id: str | None = None) -> Snapshot | None:
        """By id (snapshot id or step as text), else the newest good one."""
        for snapshot in reversed(self._snapshots):
            if snap_id is None and snapshot.good:
                return snapshot
            if snap_id is not None and snap_id in (snapshot.id, str(snapshot.step)):
                return snapshot
        return None

    def ids(self) -> list[str]:
        return [s.id for s in self._snapshots]

    def __len__(self) -> int:
        return len(self._snapshots)

    def clear(self) -> None:
        self._snapshots.clear()


def load_model_in_place(
    model: torch.nn.Module, saved: dict[str, Any], copies: BatchedCopies
) -> bool:
    """Fast path for rollback: the same tensors by name and shape, so the saved
    values are queued to be copied into the live ones (torch's load_state_dict
    walks every module in Python first). False: the layout differs."""
    live = model.state_dict()
    if live.keys() != saved.keys() or not all(
        same_layout(live[k], v) for k, v in saved.items()
    ):
        return False
    for name, tensor in live.items():
        copies.into(tensor, saved[name])
    return True


def load_optimizer_in_place(
    optimizer: torch.optim.Optimizer, saved: dict[str, Any], copies: BatchedCopies
) -> bool:
    """Fast path for rollback: the same groups, so the state tensors are copied
    in place instead of rebuilding the optimizer. False: the groups differ."""
    groups = saved["param_groups"]
    live_groups = optimizer.param_groups
    if [g.get("owner") for g in groups] != [g.get("owner") for g in live_groups] or [
        len(g["params"]) for g in groups
    ] != [len(g["params"]) for g in live_groups]:
        return False
    params = [p for g in live_groups for p in g["params"]]
    indices = [i for g in groups for i in g["params"]]
    index_map = dict(zip(indices, params, strict=True))
    old_state = optimizer.state
    new_state: defaultdict[torch.Tensor, dict[str, Any]] = defaultdict(dict)
    for index, values in saved["state"].items():
        existing = old_state.get(index_map[index], {})
        new_state[index_map[index]] = {
            k: copies.into(existing.get(k), v) for k, v in values.items()
        }
    optimizer.state = new_state
    for group, saved_group in zip(live_groups, groups, strict=True):
        group.update({k: v for k, v in saved_group.items() if k != "params"})
    return True
