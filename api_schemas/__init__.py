"""Leyline: every contract that crosses a process boundary in Esper.

Imports only pydantic and the standard library, so clients can install it
without torch, SQLModel or FastAPI.
"""

from api_schemas.artifacts import ArtifactKind, ArtifactRead
from api_schemas.catalogue import BLUEPRINTS, TASKS, BlueprintRead, TaskRead
from api_schemas.commands import CommandBatch, CommandCreate, CommandPage, CommandRead
from api_schemas.enums import (
    BlendMode,
    CommandState,
    CommandType,
    Level,
    PacketKind,
    RestartPolicy,
    Role,
    RunState,
    SeedOutcome,
    SeedStage,
    WorkerState,
)
from api_schemas.errors import ErrorBody, ErrorCode, ErrorResponse
from api_schemas.keys import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from api_schemas.pages import Page
from api_schemas.runs import (
    CheckpointRead,
    ModelOptions,
    Morphogenesis,
    RunCreate,
    RunMetrics,
    RunPage,
    RunRead,
    RunSpec,
)
from api_schemas.seeds import SeedGate, SeedRead, SeedStageEntry
from api_schemas.telemetry import TelemetryPacket, TelemetryPage
from api_schemas.workers import WorkerRead

__all__ = [
    "BLUEPRINTS",
    "TASKS",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyRead",
    "ArtifactKind",
    "ArtifactRead",
    "BlendMode",
    "BlueprintRead",
    "CheckpointRead",
    "CommandBatch",
    "CommandCreate",
    "CommandPage",
    "CommandRead",
    "CommandState",
    "CommandType",
    "ErrorBody",
    "ErrorCode",
    "ErrorResponse",
    "Level",
    "ModelOptions",
    "Morphogenesis",
    "PacketKind",
    "Page",
    "RestartPolicy",
    "Role",
    "RunCreate",
    "RunMetrics",
    "RunPage",
    "RunRead",
    "RunSpec",
    "RunState",
    "SeedGate",
    "SeedOutcome",
    "SeedRead",
    "SeedStage",
    "SeedStageEntry",
    "TaskRead",
    "TelemetryPacket",
    "TelemetryPage",
    "WorkerRead",
    "WorkerState",
]
