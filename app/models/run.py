"""Run: one training run and its latest known progress."""

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from app.models._types import json_field, new_id, time_field


class Run(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str | None = Field(default=None, max_length=200)
    state: str = Field(default="queued", index=True, max_length=16)
    spec: dict[str, Any] = json_field()
    # "|k=v|k2=v2|" so label filters are a portable LIKE on SQLite and PostgreSQL.
    labels_text: str = Field(default="|", max_length=20000)
    worker_id: str | None = Field(default=None, index=True, max_length=100)
    created_at: datetime = time_field(nullable=False, index=True)
    started_at: datetime | None = time_field()
    finished_at: datetime | None = time_field()
    epoch: int = 0
    step: int = 0
    metrics: dict[str, Any] = json_field()
    seeds: dict[str, Any] = json_field()
    seed_list: list[dict[str, Any]] = json_field(list)
    error: str | None = Field(default=None, max_length=4000)
    halt_reason: str | None = Field(default=None, max_length=4000)
    result: dict[str, Any] = json_field()
    idempotency_key: str | None = Field(default=None, unique=True, max_length=300)
    request_hash: str | None = Field(default=None, max_length=64)
    assignment_id: str | None = Field(default=None, max_length=64)
    attempt: int = 1  # +1 each time the run resumes after losing its worker
    restarts: int = 0
