"""A user task loaded by import path in the tests (and a NaN-injecting variant)."""

import torch
from torch import Tensor, nn

from workers.engine.seeds.slot import SeedSlot
from workers.engine.tasks import Task, TaskOptions

ARMED = {"nan": False}


class TinyHost(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.inp = nn.Linear(4, width)
        self.mid = SeedSlot("mid", (width,))
        self.out = nn.Linear(width, 2)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.out(self.mid(torch.relu(self.inp(x))))
        return out


def factory(opts: TaskOptions) -> Task:
    gen = torch.Generator().manual_seed(opts.seed)
    x = torch.randn(256, 4, generator=gen)
    y = (x[:, 0] + x[:, 1] > 0).long()
    torch.manual_seed(opts.seed)
    return Task(
        "tiny", x[:192], y[:192], x[192:], y[192:], host=TinyHost(opts.width or 8)
    )


def host_factory(opts: TaskOptions) -> Task:
    """The same task with its training set kept in host memory."""
    task = factory(opts)
    task.resident = False
    return task


def nan_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy, except NaN once on the next training forward after arming."""
    loss = nn.functional.cross_entropy(logits, y)
    if ARMED["nan"] and torch.is_grad_enabled():
        ARMED["nan"] = False
        return loss * float("nan")
    return loss


def nan_factory(opts: TaskOptions) -> Task:
    task = factory(opts)
    task.loss_fn = nan_loss
    return task


def broken_factory(opts: TaskOptions) -> Task:
    raise RuntimeError("this user task is broken on purpose")


HALT: dict[str, object] = {"event": None, "at_call": -1, "calls": 0}


def halting_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Sets the test's halt event during the configured training forward."""
    if torch.is_grad_enabled():
        HALT["calls"] = int(HALT["calls"]) + 1  # type: ignore[call-overload]
        event = HALT["event"]
        if HALT["calls"] == HALT["at_call"] and event is not None:
            event.set()  # type: ignore[attr-defined]
    return nn.functional.cross_entropy(logits, y)


def halting_factory(opts: TaskOptions) -> Task:
    task = factory(opts)
    task.loss_fn = halting_loss
    return task
