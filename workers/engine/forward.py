"""The model's forward pass as the loop runs it: on which device, in which
precision, and how a step's gradients are made on one device.

`Forward` is built once at setup; `local_forward_backward` is the one-device
step (a DDP run's is in distributed.py). Neither waits for the device."""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from workers.engine.tasks import LossFn

Correct = Tensor | int | None  # correct predictions; None: not read this step


class HaltObserved(Exception):
    """Raised inside a step when the halt flag is seen; no update happens."""


class GradientAggregator(Protocol):
    """What stands in for `loss.backward()` when the run's gradient
    aggregation is not a plain sum (seeds/gradient_aggregation.py)."""

    def backward(self, loss: Tensor) -> None: ...

    def finish(self) -> None:
        """After the step's last backward: the parameters' `.grad` written."""
        ...


@dataclass
class Forward:
    model: nn.Module
    loss_fn: LossFn
    device: torch.device
    autocast: bool  # CUDA bf16 autocast
    micro_batches: int
    aggregator: GradientAggregator | None = None  # None: plain backward (`sum`)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def loss(
        self, x: Tensor, y: Tensor, module: nn.Module | None = None
    ) -> tuple[Tensor, Tensor]:
        """(loss, logits) of `module` (default the model; DDP passes its wrapper)."""
        call = module if module is not None else self.model
        if not self.autocast:
            logits = call(x)
            return self.loss_fn(logits, y), logits
        with torch.autocast("cuda", torch.bfloat16):
            logits = call(x)
            return self.loss_fn(logits, y).float(), logits

    def correct(self, logits: Tensor, y: Tensor) -> Tensor | int:
        if self.cuda:
            return (logits.detach().argmax(dim=1) == y).sum()
        # On CPU, numpy on the zero-copy views skips three dispatches to torch's
        # thread pool, which cost more than the arithmetic for a small batch.
        hits = logits.detach().numpy().argmax(axis=1) == y.numpy()
        return int(hits.sum())

    def precision(self) -> Any:
        """The autocast context of this run (nothing on CPU or in fp32)."""
        if self.autocast:
            return torch.autocast("cuda", torch.bfloat16)
        return contextlib.nullcontext()


def local_forward_backward(
    fw: Forward,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    *,
    measure: bool,
    check_halt: Callable[[], None],
) -> tuple[Tensor, Correct]:
    """Gradients of the batch mean loss; returns (mean loss, correct count) as
    device tensors, so nothing here waits for the device. `check_halt` raises
    HaltObserved between micro-batches when a halt arrived."""
    optimizer.zero_grad(set_to_none=True)
    parts = fw.micro_batches
    aggregator = fw.aggregator
    if parts == 1:  # the common case, with no extra tensor ops
        check_halt()
        loss, logits = fw.loss(x, y)
        if aggregator is None:
            loss.backward()
        else:
            aggregator.backward(loss)
            aggregator.finish()
        return loss.detach(), fw.correct(logits, y) if measure else None
    loss_sum = torch.zeros((), device=fw.device)
    correct: Correct = 0 if measure else None
    for xb, yb in zip(x.chunk(parts), y.chunk(parts), strict=True):
        check_halt()
        loss, logits = fw.loss(xb, yb)
        scaled = loss * (xb.shape[0] / x.shape[0])
        if aggregator is None:
            scaled.backward()
        else:
            aggregator.backward(scaled)
        loss_sum = loss_sum + loss.detach().float() * xb.shape[0]
        if correct is not None:
            correct = correct + fw.correct(logits, yb)
    if aggregator is not None:
        aggregator.finish()
    return loss_sum / x.shape[0], correct
