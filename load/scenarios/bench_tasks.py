"""Benchmark tasks (user tasks by import path, `--task load.scenarios.bench_tasks:
vectors`): data sets large enough that an epoch is hundreds of steps, so a
step-time figure is not dominated by per-epoch work as on `digits`."""

import torch
from torch import nn

from workers.engine.hosts import MLPHost
from workers.engine.tasks import Task, TaskOptions


def vectors(opts: TaskOptions) -> Task:
    """`samples` (default 65536) 256-dim Gaussian vectors, 10 classes from a
    fixed random teacher; an MLP host (width/depth from the spec)."""
    n = int(opts.options.get("samples", 65536))
    gen = torch.Generator().manual_seed(4321)
    x = torch.randn(n, 256, generator=gen)
    teacher = nn.Linear(256, 10)
    with torch.no_grad():
        for p in teacher.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
        y = teacher(x).argmax(dim=1)
    torch.manual_seed(opts.seed)
    host = MLPHost(256, opts.width or 512, opts.depth or 3, 10)
    cut = int(n * 0.9)
    return Task("vectors", x[:cut], y[:cut], x[cut:], y[cut:], host=host)
