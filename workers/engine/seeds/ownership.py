"""Parameter ownership: every trainable parameter has exactly one owner.

The host owns one optimizer group; each seed gets its own group on germination,
which leaves the optimizer (with its per-parameter state) when the seed is culled.
"""

from collections.abc import Iterable

import torch
from torch import nn

HOST = "host"


def add_group(
    optimizer: torch.optim.Optimizer, owner: str, params: Iterable[nn.Parameter]
) -> None:
    if any(group.get("owner") == owner for group in optimizer.param_groups):
        raise ValueError(f"optimizer already has a group owned by {owner!r}")
    optimizer.add_param_group({"params": list(params), "owner": owner})


def remove_group(optimizer: torch.optim.Optimizer, owner: str) -> int:
    """Remove the owner's group and its optimizer state; returns params removed."""
    for index, group in enumerate(optimizer.param_groups):
        if group.get("owner") == owner:
            for param in group["params"]:
                optimizer.state.pop(param, None)
            del optimizer.param_groups[index]
            return len(group["params"])
    return 0


def owners(optimizer: torch.optim.Optimizer) -> list[str]:
    return [str(group.get("owner", HOST)) for group in optimizer.param_groups]


def holds_any(optimizer: torch.optim.Optimizer, params: Iterable[nn.Parameter]) -> bool:
    ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
    return any(id(p) in ids for p in params)


def check_ownership(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Raise if a trainable parameter is in no group or in more than one."""
    seen: dict[int, str] = {}
    for group in optimizer.param_groups:
        for param in group["params"]:
            if id(param) in seen:
                raise ValueError(
                    f"parameter owned by {seen[id(param)]!r} and {group.get('owner')!r}"
                )
            seen[id(param)] = str(group.get("owner"))
    for name, param in model.named_parameters():
        if param.requires_grad and id(param) not in seen:
            raise ValueError(f"parameter {name} has no owner in the optimizer")


class SeedGroups:
    """The seeds' groups in the trainer's optimizer. The trainer sets
    `optimizer` once it has built one (and again after a restore replaced
    it); until then a seed's parameters join no group."""

    def __init__(self) -> None:
        self.optimizer: torch.optim.Optimizer | None = None

    def add(self, seed_id: str, params: Iterable[nn.Parameter]) -> None:
        if self.optimizer is not None:
            add_group(self.optimizer, seed_id, params)

    def remove(self, seed_id: str) -> None:
        if self.optimizer is not None:
            remove_group(self.optimizer, seed_id)

    def clear_of(self, seed_id: str | None) -> bool:
        """No group is left owned by the seed (G5)."""
        return self.optimizer is None or not any(
            g.get("owner") == seed_id for g in self.optimizer.param_groups
        )

    def fossilize(self, seed_id: str) -> None:
        """From here the seed is an ordinary part of the model: its group keeps
        training, renamed so no seed can be culled out of the host."""
        if self.optimizer is None:
            return
        for group in self.optimizer.param_groups:
            if group.get("owner") == seed_id:
                group["owner"] = f"fossil:{seed_id}"
