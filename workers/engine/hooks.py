"""The engine's boundary: plain callbacks and values, so it runs without Redis.

The worker runner (workers/runner.py) provides these; unit tests pass lambdas.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# A telemetry packet as the engine emits it: a plain dict with the keys of
# api_schemas.TelemetryPacket less run_id/ts/cursor (the runner adds those):
#   {"kind": "metric"|"event"|"seed"|"state", "name": str, "value": float|str|None,
#    "step": int, "epoch": int, "level": "info"|"warning"|"critical", "attrs": {...}}
# Plain dicts keep the per-step cost to a few microseconds.
Packet = dict[str, Any]


@dataclass(frozen=True)
class EngineCommand:
    """A verified operator command, handed to the engine at a step boundary."""

    id: str
    type: str  # api_schemas.CommandType value
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointInfo:
    id: str
    path: str
    step: int
    epoch: int
    bytes: int
    good: bool = True
    val_accuracy: float | None = None  # the latest validation's, at this step


@dataclass(frozen=True)
class ArtifactFile:
    """A file the engine finished writing on local disk for the run's artifact
    store (a model bundle's parts, a report). The worker uploads it off the
    training thread; `name` is its name among the run's artifacts."""

    name: str
    path: str
    kind: str  # api_schemas artifact kind: checkpoint | model | report
    step: int


@dataclass
class Progress:
    """A cheap snapshot the runner reads from another thread for progress events."""

    step: int = 0
    epoch: int = 0
    metrics: dict[str, float | None] = field(default_factory=dict)
    seed_counts: dict[str, int] = field(default_factory=dict)
    seeds: list[dict[str, Any]] = field(default_factory=list)
    paused: bool = False


@dataclass
class RunOutcome:
    """How a run ended: state is completed|cancelled|halted|failed."""

    state: str
    error: str | None = None
    halt_reason: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


def _no_emit(packet: Packet) -> None:
    return None


def _no_command() -> EngineCommand | None:
    return None


def _no_ack(
    command_id: str, state: str, reason: str | None, result: dict[str, Any]
) -> None:
    return None


def _no_state(state: str, info: dict[str, Any]) -> None:
    return None


def _no_checkpoint(info: CheckpointInfo) -> None:
    return None


def _no_artifact(artifact: ArtifactFile) -> None:
    return None


def _no_fetch(target: str | None) -> str | None:
    return None


@dataclass
class Hooks:
    """Everything the engine may call out to.

    - emit: every telemetry packet (must not block; the runner batches).
    - next_command: polled at each step boundary; None when nothing is pending.
    - ack: outcome of a command: state "applied" or "rejected", reason, result.
    - on_state: "running" | "paused" transitions while training.
    - on_checkpoint: after a checkpoint is durably written.
    - on_artifact: after another file for the artifact store is written.
    - fetch_checkpoint: a checkpoint no longer on local disk (an id, a step,
      or None for the latest good), fetched from the artifact store into a
      local checkpoint folder; its path, or None when the store lacks it.
    - halt: set by the runner's command-reader thread the moment an
      emergency_halt arrives; the engine checks it between micro-batches and
      before each optimizer step, so no further update happens.
    - halt_reason: filled in by whoever sets `halt`.
    """

    emit: Callable[[Packet], None] = _no_emit
    next_command: Callable[[], EngineCommand | None] = _no_command
    ack: Callable[[str, str, str | None, dict[str, Any]], None] = _no_ack
    on_state: Callable[[str, dict[str, Any]], None] = _no_state
    on_checkpoint: Callable[[CheckpointInfo], None] = _no_checkpoint
    on_artifact: Callable[[ArtifactFile], None] = _no_artifact
    fetch_checkpoint: Callable[[str | None], str | None] = _no_fetch
    halt: threading.Event = field(default_factory=threading.Event)
    halt_info: dict[str, Any] = field(default_factory=dict)
