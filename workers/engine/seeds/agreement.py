"""How the ranks of a DDP run make the gates' signals identical.

Each rank probes and samples its own shard, yet every rank must take the same
gate decisions, or their models would drift apart. Both reductions run over a
`Collective` and only when it has more than one rank: a single process never
pays for them.
"""

from collections.abc import Callable

import torch
from torch import Tensor

from workers.engine.collective import Collective
from workers.engine.seeds.isolation import IsolationSample

LossFn = Callable[[Tensor, Tensor], Tensor]


def global_mean(loss_fn: LossFn, collective: Collective, total: int) -> LossFn:
    """`loss_fn` over a rank's shard, made the mean over the global batch of
    `total` samples: each rank's sum (mean x its count) summed over the ranks,
    in float64. A rank with an empty shard adds zero but still joins."""

    def global_loss(logits: Tensor, target: Tensor) -> Tensor:
        local = torch.zeros((), device=logits.device, dtype=torch.float64)
        if target.shape[0]:
            local = loss_fn(logits, target).double() * target.shape[0]
        collective.all_reduce(local, "sum")
        return local / max(1, total)

    return global_loss


def agree_sample(
    sample: IsolationSample | None, collective: Collective, device: str
) -> IsolationSample | None:
    """The worst isolation sample over the ranks, so G1 judges all alike. A
    rank that took no sample still joins (present = 0 there): the sample is
    kept if any rank took one."""
    local = [0.0, 0.0, 0.0]
    if sample is not None:
        local = [1.0, float(sample.max_abs_diff), float(not sample.input_detached)]
    figures = torch.tensor(local, dtype=torch.float64, device=device)
    collective.all_reduce(figures, "max")
    present, diff, attached = figures.tolist()
    return IsolationSample(diff, not attached) if present else None
