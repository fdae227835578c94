"""Counting a peer's training FLOPs the way torch counts them.

`torch.utils.flop_counter.FlopCounterMode` counts the matrix products and
convolutions of whatever runs under it (elementwise work and the optimizer
are free, as in the engine's accounting); a training step is a forward, the
loss and a backward, measured once per architecture and batch size.
"""

from collections.abc import Callable

from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

LossFn = Callable[[Tensor, Tensor], Tensor]


def counted(work: Callable[[], object]) -> int:
    """The FLOPs of running `work` once."""
    with FlopCounterMode(display=False) as counter:
        work()
    return int(counter.get_total_flops())


class StepFlops:
    """Training-step FLOPs of a model, remeasured when its shapes change."""

    def __init__(self, loss_fn: LossFn = nn.functional.cross_entropy) -> None:
        self.loss_fn = loss_fn
        self._cache: dict[tuple[object, ...], int] = {}

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor) -> int:
        key = (len(x), *(tuple(p.shape) for p in model.parameters()))
        if key not in self._cache:
            self._cache[key] = self._measure(model, x, y)
        return self._cache[key]

    def _measure(self, model: nn.Module, x: Tensor, y: Tensor) -> int:
        def step() -> None:
            self.loss_fn(model(x), y).backward()  # type: ignore[no-untyped-call]

        flops = counted(step)
        model.zero_grad(set_to_none=True)  # the measurement's gradients are not kept
        return flops
