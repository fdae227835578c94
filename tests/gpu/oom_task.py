"""A user task whose host asks for 1 TiB of device memory in its forward."""

import torch
from torch import Tensor

from workers.engine.hosts import MLPHost
from workers.engine.tasks import Task, TaskOptions


class Greedy(MLPHost):
    def forward(self, x: Tensor) -> Tensor:
        torch.empty(2**40, dtype=torch.uint8, device=x.device)
        return super().forward(x)


def factory(opts: TaskOptions) -> Task:
    x = torch.randn(256, 8)
    y = torch.randint(0, 3, (256,))
    return Task("oom", x[:200], y[:200], x[200:], y[200:], host=Greedy(8, 16, 2, 3))
