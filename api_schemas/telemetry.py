"""Telemetry packets: WebSocket frames, stream entries and history rows."""

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api_schemas.enums import Level, PacketKind
from api_schemas.pages import Page


def utcnow() -> datetime:
    return datetime.now(UTC)


class TelemetryPacket(BaseModel):
    """One frame: a metric, event, seed state, run state or command outcome."""

    cursor: str | None = Field(
        default=None, description="Opaque, increasing; resume with ?after=."
    )
    run_id: str | None = Field(
        default=None, description="Run id (null for fleet-wide)."
    )
    ts: datetime = Field(default_factory=utcnow, description="Emission time (UTC).")
    kind: PacketKind = Field(description="metric|event|seed|state|command.")
    name: str = Field(description="e.g. `tolaria.training.loss`.")
    value: float | str | None = Field(default=None, description="Value, if any.")
    step: int | None = Field(default=None, description="Optimizer step.")
    epoch: int | None = Field(default=None, description="Epoch.")
    level: Level = Field(default=Level.info, description="info|warning|critical.")
    attrs: dict[str, Any] = Field(default_factory=dict, description="Extra fields.")


class PongFrame(BaseModel):
    """The reply to a client's `ping` text: not a packet, so it carries `type`."""

    type: Literal["pong"] = Field(default="pong", description="Always `pong`.")
    cursor: str | None = Field(
        description="The last cursor delivered on this socket (resume from it)."
    )


class TelemetryPage(Page[TelemetryPacket]):
    """A page of telemetry history."""


class TelemetryBucket(BaseModel):
    """Deterministic min/max/last of one metric over a range of steps."""

    name: str = Field(description="Metric name.")
    step_start: int = Field(description="First step in the bucket.")
    step_end: int = Field(description="Last step in the bucket.")
    min: float = Field(description="Minimum.")
    max: float = Field(description="Maximum.")
    last: float = Field(description="Last value (highest cursor).")
    count: int = Field(description="Samples in the bucket.")


class TelemetrySeries(BaseModel):
    """History reduced to buckets for charts."""

    resolution: int = Field(description="Buckets per metric requested.")
    buckets: list[TelemetryBucket] = Field(description="Buckets, by name then step.")
    cursor: str | None = Field(
        default=None,
        description="Highest cursor the buckets cover: open the run's "
        "WebSocket with ?after= this to continue live without replaying history.",
    )


def cursor_key(cursor: str) -> tuple[int, int]:
    """Order of a stream-id cursor `ms-seq`; raises ValueError if malformed."""
    ms, _, seq = cursor.partition("-")
    return int(ms), int(seq or 0)
