"""Gradient isolation for seeds in TRAINING, and the monitor that samples it.

The straight-through term `s - s.detach()` is exactly zero in value, so the host's
output is bitwise unchanged, yet its gradient with respect to `s` is the identity:
the seed receives the activation's gradient and learns from the task loss. The
seed reads `h.detach()`, so no gradient flows back into the host through it.
"""

from dataclasses import dataclass

from torch import Tensor


def straight_through(h: Tensor, seed_out: Tensor) -> Tensor:
    """h plus a zero-valued term that routes the activation gradient to the seed."""
    return h + (seed_out - seed_out.detach())


@dataclass
class IsolationSample:
    """What one sampled TRAINING forward looked like."""

    max_abs_diff: float | Tensor  # a tensor until the G1 check reads it
    input_detached: bool

    @property
    def violated(self) -> bool:
        return bool(self.max_abs_diff != 0.0) or not self.input_detached


class IsolationMonitor:
    """Counts isolation violations from samples the slots record.

    Sampling (not every step) keeps the cost off the hot path; the check itself
    is a max-abs-difference and a grad_fn test on the seed's input.
    """

    def __init__(self, every: int = 25) -> None:
        self.every = max(1, every)
        self.samples = 0
        self.violations = 0

    def should_sample(self, step: int) -> bool:
        return step % self.every == 0

    def record(self, sample: IsolationSample) -> bool:
        self.samples += 1
        if sample.violated:
            self.violations += 1
        return sample.violated
