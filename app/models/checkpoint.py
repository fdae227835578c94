"""Checkpoint: one of a run's checkpoints in the artifact store.

Keyed by (run, checkpoint id): ids (`ckpt-<step>`) repeat across runs. A row
is inserted when the worker reports the checkpoint complete in the store, and
deleted when retention deletes it there (both from `CheckpointEvent`).
"""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models._types import bigint_field, time_field


class Checkpoint(SQLModel, table=True):
    run_id: str = Field(primary_key=True, max_length=36)
    id: str = Field(primary_key=True, max_length=100)
    path: str = Field(max_length=2000)  # its content's path in the store
    step: int = 0
    epoch: int = 0
    bytes: int = bigint_field()
    good: bool = True
    created_at: datetime = time_field(nullable=False)
    sha256: str | None = Field(default=None, max_length=64)
    val_accuracy: float | None = None
