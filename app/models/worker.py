"""Worker: a registered worker process and what it last reported."""

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from app.models._types import json_field, time_field


class Worker(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=100)
    hostname: str = Field(default="", max_length=255)
    device: str = Field(default="cpu", max_length=32)
    device_name: str | None = Field(default=None, max_length=200)
    state: str = Field(default="idle", index=True, max_length=16)
    run_id: str | None = Field(default=None, max_length=36)
    last_heartbeat: datetime | None = time_field()
    torch_version: str | None = Field(default=None, max_length=64)
    capabilities: dict[str, Any] = json_field()
    registered_at: datetime = time_field(nullable=False)
