"""Command: the audited ledger of operator commands."""

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from app.models._types import json_field, new_id, time_field


class Command(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    run_id: str | None = Field(default=None, index=True, max_length=36)
    type: str = Field(max_length=32)
    params: dict[str, Any] = json_field()
    state: str = Field(default="pending", index=True, max_length=16)
    issued_by: str | None = Field(default=None, max_length=100)
    issued_at: datetime = time_field(nullable=False, index=True)
    dispatched_at: datetime | None = time_field()
    acked_at: datetime | None = time_field()
    result: dict[str, Any] = json_field()
    reason: str | None = Field(default=None, max_length=2000)
    nonce: str = Field(default="", max_length=64)
    idempotency_key: str | None = Field(default=None, unique=True, max_length=300)
    request_hash: str | None = Field(default=None, max_length=64)
