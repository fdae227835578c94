"""The capture decisions of the step's CUDA graphs, kept apart from CUDA
(nothing here touches the device) so they are unit-tested on the CPU: whether
the spec asks for graphs, why a run cannot be captured at all (`unsupported`),
what a captured step depends on (`architecture_key`) and the state machine
that picks each step's action (`Plan`). The capture, replay and batch staging
are cuda_graphs.py's `StepGraphs`.

What stays eager, and why (each a `tolaria.graph.fallback` event with the
reason, and the fallback counter, except the expected pauses):
  - CPU: nothing to capture (reported once, not an error);
  - DDP: the gradient all-reduce runs in hooks the graph cannot hold;
  - a compiled host, micro-step loss judging (deferred reads off), an
    optimizer other than Adam, gradient aggregation other than `sum`;
  - a failed capture: eager until the architecture changes, then tried again;
  - pauses, not counted: a seed BLENDING (its alpha changes every step; it is
    a constant inside a graph), and batches of another size than the spec's
    (an epoch's short last batch).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import torch
from torch import nn

from api_schemas.enums import SeedStage
from workers.engine.forward import Forward
from workers.engine.seeds.slot import SeedSlot

BLENDING = "a seed is blending: its alpha changes every step"

Key = tuple[Any, ...]


def graphs_requested(options: Mapping[str, Any]) -> bool:
    value = options.get("cuda_graphs", False)
    return value is True or str(value).lower() in ("1", "true", "yes")


def unsupported(
    *,
    device: torch.device,
    distributed: bool,
    compiled: bool,
    deferred_reads: bool,
    optimizer: torch.optim.Optimizer,
    aggregation: str = "sum",
) -> str | None:
    """Why this run's steps cannot be captured at all; None: they can."""
    if device.type != "cuda":
        return f"device is {device.type}: CUDA graphs need a CUDA device"
    if distributed:
        return "DDP: the gradient all-reduce runs in hooks a graph cannot hold"
    if compiled:
        return "model.options.compile is on: a compiled host is not captured"
    if not deferred_reads:
        return "deferred reads are off: the loss is judged before each update"
    if type(optimizer) is not torch.optim.Adam:
        return f"optimizer {type(optimizer).__name__} is not a capturable Adam"
    if aggregation != "sum":
        return f"gradient aggregation {aggregation!r} runs between backward and update"
    return None


def architecture_key(
    slots: Mapping[str, SeedSlot], optimizer: torch.optim.Optimizer, model: nn.Module
) -> tuple[Key | None, str | None]:
    """What a captured step depends on, or the reason it cannot be captured now.

    The slots' seeds and stages (a stage picks the slot's forward; a seed's id
    says which modules and parameters run), the blend weight of blended seeds
    (a constant in the graph), the optimizer object, its state dict's identity
    (a restore swaps it), its groups and their learning rates (constants in
    the graph). A rollback changes the key: it rebuilds the seeds' modules and
    restores the optimizer's state into a new state dict or a new optimizer.
    """
    held = []
    for slot in slots.values():
        if slot.stage is SeedStage.BLENDING and slot.seed is not None:
            return None, BLENDING
        held.append((slot.name, slot.stage.value, id(slot.seed), slot.alpha))
    groups = tuple((len(g["params"]), g.get("lr")) for g in optimizer.param_groups)
    key = (tuple(held), id(optimizer), id(optimizer.state), groups, model.training)
    return key, None


class Action(Enum):
    EAGER = "eager"  # the trainer runs the step
    WARMUP = "warmup"  # this module runs the step eagerly, on the side stream
    CAPTURE = "capture"  # capture, then replay
    REPLAY = "replay"


@dataclass
class Plan:
    """The capture decisions, kept apart from CUDA so they are unit-tested on
    the CPU. `decide` is called once per step with the step's key (None: not
    capturable now, with its reason) and whether its batch fits the static
    inputs."""

    warmup: int = 2
    key: Key | None = None  # the architecture the warm-up, graph belong to
    warm: int = 0  # warm-up steps made for `key`
    captured: bool = False
    failed: bool = False  # the capture for `key` failed: eager until it changes
    changes: int = 0  # keys seen (1 is the first architecture)
    reason: str | None = None  # why the last steps ran eagerly

    def decide(self, key: Key | None, reason: str | None, fits: bool) -> Action:
        if key is None:
            self.reason = reason
            return Action.EAGER
        if key != self.key:
            self.key, self.warm, self.captured, self.failed = key, 0, False, False
            self.changes += 1
        self.reason = None
        if self.failed:
            return Action.EAGER
        if not fits:
            return Action.EAGER
        if self.captured:
            return Action.REPLAY
        if self.warm < self.warmup:
            self.warm += 1
            return Action.WARMUP
        return Action.CAPTURE

    def capture_done(self, ok: bool) -> None:
        self.captured, self.failed = ok, not ok


def aggregation_name(morphogenesis: Any, fw: Forward) -> str:
    """The spec's gradient aggregation (`sum` unless set), or "custom" where
    the forward carries an aggregator of its own."""
    value = getattr(morphogenesis, "gradient_aggregation", "sum")
    name = str(getattr(value, "value", value))
    if name == "sum" and getattr(fw, "aggregator", None) is not None:
        return "custom"
    return name
