"""Oona: the Redis key names and the envelopes that travel on them.

Every stream entry has one field, `data`, holding the envelope's JSON.
"""

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar, cast

from pydantic import BaseModel, Field

from api_schemas.enums import CommandState, RunState, WorkerState
from api_schemas.runs import RunCreate, RunMetrics

RUNS_STREAM = "esper:runs"
RUNS_GROUP = "workers"
EVENTS_STREAM = "esper:events"
EVENTS_GROUP = "gateway"
BROADCAST_STREAM = "esper:cmd:broadcast"
# Fleet-wide changes (run states, command outcomes, workers) for /ws/fleet.
FLEET_STREAM = "esper:fleet"
# The emergency lane (workers/lane.py): workers' critical packets, relayed to
# the fleet stream by one gateway (group `gateway`; app/telemetry/emergency.py).
EMERGENCY_STREAM = "esper:emergency"
EMERGENCY_GROUP = "gateway"
EMERGENCY_MAXLEN = 10_000
DATA_FIELD = "data"

# Stream replies, as redis-py returns them over RESP2 with bytes (the gateway)
# or str (workers: decode_responses). Its annotations are the union of the
# RESP2 and RESP3 shapes, so each read states which one it gets.
T = TypeVar("T", bytes, str)
Entries = list[tuple[T, dict[T, T]]]


def read_reply(reply: object, _kind: type[T]) -> list[tuple[T, Entries[T]]]:
    """XREAD/XREADGROUP: (stream, entries) per stream; nothing read is []."""
    return cast(list[tuple[T, Entries[T]]], reply or [])


def range_reply(reply: object, _kind: type[T]) -> Entries[T]:
    """XRANGE/XREVRANGE: (id, fields) entries."""
    return cast(Entries[T], reply or [])


def command_stream(run_id: str) -> str:
    return f"esper:cmd:{run_id}"


def wake_stream(token: str) -> str:
    """A command reader's own stream: an entry ends its blocking read."""
    return f"esper:cmd:wake:{token}"


def telemetry_stream(run_id: str) -> str:
    return f"esper:telemetry:{run_id}"


def worker_key(worker_id: str) -> str:
    return f"esper:worker:{worker_id}"


def worker_drain_key(worker_id: str) -> str:
    """Set by `POST /api/v1/workers/{id}/drain`: the worker stops claiming,
    finishes its run and reports `drained`."""
    return f"esper:worker:{worker_id}:drain"


def run_fence_key(run_id: str) -> str:
    """The run's current attempt, set when it is requeued: a worker training
    an earlier attempt stops when it reads a higher one."""
    return f"esper:run:{run_id}:attempt"


def run_ended_stream(run_id: str) -> str:
    """Written when the gateway ends a run no worker had started (a halt or a
    cancel of a queued run): a worker that claims the run later skips it."""
    return f"esper:run:{run_id}:ended"


# The attempt of the run a worker trains, on each of its run's events: the
# gateway refuses an event of an earlier attempt than the run's (fencing), so
# a worker presumed lost that comes back cannot change a resumed run.
Attempt = Annotated[int, Field(ge=1, description="The run attempt it is from.")]


class ResumePoint(BaseModel):
    """A checkpoint in the artifact store that a run starts from."""

    run_id: str = Field(description="The run whose checkpoint it is.")
    checkpoint_id: str | None = Field(
        default=None, description="None: that run's latest good checkpoint."
    )
    fork: bool = Field(
        default=False,
        description="Another run's checkpoint: its model, seeds and optimizer "
        "state, with this run's spec; steps count from 0. Otherwise the run "
        "resumes itself: position, data order and RNG restored too.",
    )


class RunAssignment(BaseModel):
    """On `esper:runs`: a run for some worker to claim."""

    run_id: str
    spec: RunCreate
    attempt: int = Field(default=1, description="The run's attempt (fencing).")
    resume: ResumePoint | None = Field(
        default=None, description="Start from this checkpoint (None: from scratch)."
    )
    lost_at_step: int | None = Field(
        default=None,
        description="A resumed attempt: the step the lost attempt had reached "
        "(the run.resumed event reports the steps lost).",
    )


class SignedCommand(BaseModel):
    """On `esper:cmd:{run_id}` or `esper:cmd:broadcast`: a command, signed."""

    id: str
    run_id: str | None
    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    nonce: str
    issued_at: float = Field(description="Unix seconds.")
    key_id: str
    signature: str = ""


class RunStateEvent(BaseModel):
    type: Literal["run_state"] = "run_state"
    run_id: str
    worker_id: str
    attempt: Attempt = 1
    state: RunState
    error: str | None = None
    halt_reason: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    at: datetime | None = None


class ProgressEvent(BaseModel):
    type: Literal["progress"] = "progress"
    run_id: str
    worker_id: str
    attempt: Attempt = 1
    epoch: int
    step: int
    metrics: RunMetrics
    seeds: dict[str, int] = Field(default_factory=dict)
    seed_list: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Each seed: seed_id, slot, blueprint, "
        "stage, alpha, params, germinated_step, reason.",
    )


class CommandAckEvent(BaseModel):
    type: Literal["command_ack"] = "command_ack"
    command_id: str
    run_id: str | None
    worker_id: str
    attempt: Attempt = 1
    state: CommandState
    reason: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    step: int | None = None


class WorkerEvent(BaseModel):
    type: Literal["worker"] = "worker"
    worker_id: str
    state: WorkerState
    hostname: str = ""
    device: str = "cpu"
    device_name: str | None = None
    torch_version: str | None = None
    run_id: str | None = None
    capabilities: dict[str, Any] = Field(default_factory=dict)


class CheckpointEvent(BaseModel):
    type: Literal["checkpoint"] = "checkpoint"
    run_id: str
    worker_id: str
    attempt: Attempt = 1
    checkpoint_id: str
    path: str = Field(description="Its content's path in the artifact store.")
    step: int
    epoch: int
    bytes: int = 0
    good: bool = True
    sha256: str | None = Field(default=None, description="Its manifest's sha256.")
    val_accuracy: float | None = None
    pruned: list[str] = Field(
        default_factory=list,
        description="Checkpoint ids of the run deleted from the store (retention) "
        "before this event: their rows go too.",
    )


BusEvent = Annotated[
    RunStateEvent | ProgressEvent | CommandAckEvent | WorkerEvent | CheckpointEvent,
    Field(discriminator="type"),
]
