"""Outbox: bus messages committed with the rows they belong to, relayed after commit."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Column, Field, SQLModel

from app.models._types import time_field


class Outbox(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    stream: str = Field(max_length=200)
    data: str = Field(sa_column=Column(Text, nullable=False))
    run_id: str | None = Field(default=None, max_length=36)
    command_id: str | None = Field(default=None, max_length=36)
    created_at: datetime = time_field(nullable=False)
    sent_at: datetime | None = time_field(index=True)
    attempts: int = 0
    message_id: str | None = Field(default=None, max_length=64)
