"""What `python -m load rc1` trains: RC1's workload at Esper's scale, its
policy made to miss its deadline, and the run spec around them.

RC1's harness trained nn.Linear(4, 2) on 64 samples. `rc1_task` is the same
data shape as an Esper task: 64 training samples (plus 16 for validation) of
4 features, 2 classes, and the smallest host the engine has (one Linear-ReLU
block, its slot, a linear head), so an epoch is 16 steps at batch 4 as in RC1.
Both are named to the engine by import path (`load.scenarios.rc1_workload:`),
which the harness allows for itself only (`allow_own_plugins`).
"""

import contextlib
import time
from typing import Any

import torch

from api_schemas.runs import RunCreate
from load.scenarios.common import import_paths_allowed, make_spec
from workers.engine.hosts import MLPHost
from workers.engine.policy.base import Decision, PolicyInputs
from workers.engine.tasks import Task, TaskOptions

MODULE = "load.scenarios.rc1_workload"
TASK = f"{MODULE}:rc1_task"
SLOW_POLICY = f"{MODULE}:every_nth_slow"
TRAIN_SAMPLES, VAL_SAMPLES, FEATURES, CLASSES = 64, 16, 4, 2


def rc1_task(opts: TaskOptions) -> Task:
    gen = torch.Generator().manual_seed(42)
    x = torch.randn(TRAIN_SAMPLES + VAL_SAMPLES, FEATURES, generator=gen)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()  # learnable, unlike random labels
    torch.manual_seed(opts.seed)
    host = MLPHost(FEATURES, opts.width or 8, opts.depth or 1, CLASSES)
    cut = TRAIN_SAMPLES
    return Task("rc1", x[:cut], y[:cut], x[cut:], y[cut:], host=host)


class EveryNthSlow:
    """Answers `wait` at once, except every `every`-th call (every > 0), which
    sleeps `overrun` times the decision deadline first: that call is meant to
    miss the deadline. Counts its calls so the harness can check the engine's
    timeout counter against what it was made to do."""

    def __init__(self, every: int = 2, deadline_ms: float = 5.0, overrun: float = 2.0):
        self.every, self.sleep_s = int(every), deadline_ms * overrun / 1000
        self.calls = 0
        self.slow_calls = 0
        self.slow_finished = 0

    def decide(self, inputs: PolicyInputs) -> Decision:
        self.calls += 1
        if self.every > 0 and self.calls % self.every == 0:
            self.slow_calls += 1
            time.sleep(self.sleep_s)
            self.slow_finished += 1
        return Decision(reason="rc1 harness: never grows")


def every_nth_slow(**options: Any) -> EveryNthSlow:
    return EveryNthSlow(**options)


def allow_own_plugins() -> contextlib.AbstractContextManager[None]:
    """This module's task and policy, importable by the engine while the
    harness runs."""
    return import_paths_allowed(MODULE)


def rc1_spec(
    args: Any, *, morphogenesis: dict[str, Any] | None = None, **extra: Any
) -> RunCreate:
    """The run spec of one engine run: `--epochs` epochs of `--task` at
    `--batch-size`, no step limit, checkpoints only where asked."""
    spec = make_spec(
        args.task,
        args.width,
        args.depth,
        args.batch_size,
        1,
        device=args.device,
        epochs=args.epochs,
        max_steps=None,
        morphogenesis=morphogenesis or {"enabled": False},
        **extra,
    )
    if args.compile:
        spec.model.options["compile"] = True
    return spec


def task_name(name: str) -> str:
    return TASK if name == "rc1" else name
