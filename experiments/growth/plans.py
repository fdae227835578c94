"""What the experiment trains: per task, its hosts, schedule and widths.

A task's small host is capacity-limited (its static accuracy is clearly below
the large host's), so growth has something to add. Widths are matched by
parameter count by building the host itself, so the same code serves the MLP
and the CNN hosts.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from api_schemas.runs import ModelOptions
from workers.engine.tasks import load_task


@dataclass(frozen=True)
class TaskPlan:
    """One row group of the report: a task, its host kind and its schedule."""

    name: str  # the report's name for it (`mnist1d-cnn`)
    task: str  # the engine's task name (`mnist1d`)
    small_width: int
    large_width: int
    epochs: int
    options: dict[str, Any] = field(default_factory=dict)  # model.options
    batch_size: int = 64
    learning_rate: float = 0.01

    def model(self, width: int) -> ModelOptions:
        return ModelOptions(width=width, options=dict(self.options))


PLANS: dict[str, TaskPlan] = {
    plan.name: plan
    for plan in (
        TaskPlan("spirals", "spirals", small_width=16, large_width=64, epochs=20),
        TaskPlan("mnist1d", "mnist1d", small_width=32, large_width=256, epochs=20),
        TaskPlan(
            "mnist1d-cnn",
            "mnist1d",
            small_width=8,
            large_width=32,
            epochs=15,
            options={"host": "cnn"},
        ),
        TaskPlan("digits", "digits", small_width=16, large_width=64, epochs=25),
    )
}
DEFAULT_TASKS = ("spirals", "mnist1d", "mnist1d-cnn")


def scaled_epochs(plan: TaskPlan, scale: float) -> int:
    """A quick run's epochs: the plan's scaled, at least one."""
    return max(1, round(plan.epochs * scale))


def host_params(plan: TaskPlan, width: int) -> int:
    """Parameters of the plan's host at `width` (the task builds it)."""
    host = _host_at(plan, width)
    return sum(p.numel() for p in host.parameters())


def _host_at(plan: TaskPlan, width: int) -> nn.Module:
    # Built once per plan at its small width; other widths reuse the host's
    # recorded constructor arguments, which is cheap (no data is generated).
    template = _template(plan)
    args = {**getattr(template, "args", {}), "width": width}
    return type(template)(**args)


_TEMPLATES: dict[str, nn.Module] = {}


def _template(plan: TaskPlan) -> nn.Module:
    if plan.name not in _TEMPLATES:
        task = load_task(
            plan.task, plan.model(plan.small_width), 0, torch.device("cpu")
        )
        _TEMPLATES[plan.name] = task.host
    return _TEMPLATES[plan.name]


def matching_width(
    params: float, count: Callable[[int], int], low: int = 1, high: int = 4096
) -> int:
    """The width whose parameter count `count(width)` is nearest `params`.

    `count` must grow with the width (true of every host here), so a bisection
    finds the bracket and the nearer end of it wins.
    """
    while high - low > 1:
        mid = (low + high) // 2
        if count(mid) < params:
            low = mid
        else:
            high = mid
    return min((low, high), key=lambda w: (abs(count(w) - params), w))
