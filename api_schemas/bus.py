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


class RunAssignment(BaseModel):
    """On `esper:runs`: a run for some worker to claim."""

    run_id: str
    spec: RunCreate
    attempt: int = 1
    resume_from: str | None = Field(default=None, description="Checkpoint path.")


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
    state: RunState
    error: str | None = None
    halt_reason: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    at: datetime | None = None


class ProgressEvent(BaseModel):
    type: Literal["progress"] = "progress"
    run_id: str
    worker_id: str
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
    checkpoint_id: str
    path: str
    step: int
    epoch: int
    bytes: int = 0
    good: bool = True


BusEvent = Annotated[
    RunStateEvent | ProgressEvent | CommandAckEvent | WorkerEvent | CheckpointEvent,
    Field(discriminator="type"),
]
