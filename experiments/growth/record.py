"""What one training run leaves behind: plain, picklable values.

Records cross process boundaries (the experiment trains in worker processes),
so they hold only numbers, strings, lists and dicts.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CurvePoint:
    """One validation: where training was, what it had cost, how good it was."""

    step: int
    epoch: int
    flops: int | None  # cumulative training FLOPs at this validation
    val_acc: float
    params: int


@dataclass
class RunRecord:
    """One run of one config on one task with one RNG seed."""

    task: str
    config: str
    seed: int
    width: int
    val_acc: float
    params: int
    train_flops: int | None
    wall_s: float
    curve: list[CurvePoint]
    seeds: dict[str, int] = field(default_factory=dict)  # germinated, culled, ...
    germinations: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)  # not waits
    waits: int = 0
    gate_failures: list[dict[str, Any]] = field(default_factory=list)
    stage_paths: dict[str, list[str]] = field(default_factory=dict)  # per seed id
    tamiyo_timeouts: int = 0
    notes: dict[str, Any] = field(default_factory=dict)  # a peer's own figures
