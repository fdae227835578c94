"""TelemetryRecord: persisted telemetry history, ordered by the stream cursor."""

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.models._types import bigint_field, json_field, time_field


class TelemetryRecord(SQLModel, table=True):
    __tablename__ = "telemetry"
    __table_args__ = (
        Index(
            "ix_telemetry_run_cursor", "run_id", "cursor_ms", "cursor_seq", unique=True
        ),
        Index("ix_telemetry_run_name_step", "run_id", "name", "step"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=36)
    cursor_ms: int = bigint_field()
    cursor_seq: int = bigint_field()
    kind: str = Field(max_length=16)
    name: str = Field(max_length=200)
    value: float | None = None
    value_text: str | None = Field(default=None, max_length=200)
    step: int | None = None
    epoch: int | None = None
    level: str = Field(default="info", max_length=16)
    attrs: dict[str, Any] = json_field()
    ts: datetime = time_field(nullable=False)
