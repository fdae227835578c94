"""A user task whose training forward reads a value back (`.item()`): it runs
eagerly, but a CUDA graph cannot capture it (the capture fails)."""

import torch
from torch import Tensor

from workers.engine.hosts import MLPHost
from workers.engine.tasks import Task, TaskOptions


class Reading(MLPHost):
    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled():
            self.last = float(x.sum())  # a device-to-host read
        return super().forward(x)


def factory(opts: TaskOptions) -> Task:
    gen = torch.Generator().manual_seed(opts.seed)
    x = torch.randn(512, 8, generator=gen)
    y = (x[:, 0] > 0).long()
    torch.manual_seed(opts.seed)
    host = Reading(8, 32, 2, 2)
    return Task("reading", x[:448], y[:448], x[448:], y[448:], host=host)
