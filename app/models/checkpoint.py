"""Checkpoint: a durable checkpoint a worker reported for a run."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models._types import bigint_field, time_field


class Checkpoint(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=100)
    run_id: str = Field(index=True, max_length=36)
    path: str = Field(max_length=2000)
    step: int = 0
    epoch: int = 0
    bytes: int = bigint_field()
    good: bool = True
    created_at: datetime = time_field(nullable=False)
