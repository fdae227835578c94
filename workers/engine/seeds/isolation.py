"""Gradient isolation for seeds in TRAINING, and the monitor that samples it.

The straight-through term is exactly zero in value, so the host's output is
bitwise unchanged, yet it routes the activation's gradient to the seed: the seed
learns from the task loss. The seed reads `h.detach()`, so no gradient flows
back into the host through it.

Open loop, that gradient never changes as the seed learns (the host never sees
the seed's output), so a seed following it drifts without bound and hurts once
blended in full. The seed therefore learns a proximal step instead: the
gradient plus a pull back to where its output changes nothing (its anchor),
scaled so that the balance point moves the activation by `step` of its RMS
along the task gradient. What the seed learns is the direction that helps; how
far it goes stays bounded, so G2's full-strength probe measures a small step
that the blend can then grow into.
"""

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


class _ProximalStep(torch.autograd.Function):
    """Zero in value; backward: g + (rms(g) / (step * rms(x))) * (s - anchor)."""

    @staticmethod
    def forward(
        ctx: Any, seed_out: Tensor, anchor: Tensor, reference: Tensor, step: float
    ) -> Tensor:
        ctx.save_for_backward(seed_out, anchor, reference)
        ctx.step = step
        return torch.zeros_like(seed_out)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        seed_out, anchor, reference = ctx.saved_tensors
        grad_rms = grad.float().pow(2).mean().sqrt()
        ref_rms = reference.float().pow(2).mean().sqrt().clamp_min(1e-12)
        pull = (grad_rms / (ctx.step * ref_rms)).to(grad.dtype)
        proximal = (grad + pull * (seed_out - anchor)).to(seed_out.dtype)
        return proximal, None, None, None


def straight_through(
    h: Tensor, seed_out: Tensor, anchor: Tensor, step: float = 0.1
) -> Tensor:
    """h plus a zero-valued term that trains the seed on a proximal step: the
    activation's gradient, pulled back towards `anchor` (the output at which
    the seed changes nothing: its input for a convex blend, zero for a
    residual one) so its output settles `step` RMS of h away along the
    gradient."""
    term: Tensor = _ProximalStep.apply(seed_out, anchor, h.detach(), step)
    return h + term


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
