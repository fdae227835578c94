"""The model's forward pass as the loop runs it: on which device, in which
precision, and how a step's gradients are made on one device.

`Forward` is built once at setup; `local_forward_backward` is the one-device
step (a DDP run's is in distributed.py). Neither waits for the device."""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from workers.engine.tasks import LossFn

Correct = Tensor | int | None  # correct predictions; None: not read this step


class HaltObserved(Exception):
    """Raised inside a step when the halt flag is seen; no update happens."""


@dataclass
class Forward:
    model: nn.Module
    loss_fn: LossFn
    device: torch.device
    autocast: bool  # CUDA bf16 autocast
    micro_batches: int

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
    if parts == 1:  # the common case, with no extra tensor ops
        check_halt()
        loss, logits = fw.loss(x, y)
        loss.backward()
        return loss.detach(), fw.correct(logits, y) if measure else None
    loss_sum = torch.zeros((), device=fw.device)
    correct: Correct = 0 if measure else None
    for xb, yb in zip(x.chunk(parts), y.chunk(parts), strict=True):
        check_halt()
        loss, logits = fw.loss(xb, yb)
        (loss * (xb.shape[0] / x.shape[0])).backward()
        loss_sum = loss_sum + loss.detach().float() * xb.shape[0]
        if correct is not None:
            correct = correct + fw.correct(logits, yb)
    return loss_sum / x.shape[0], correct
