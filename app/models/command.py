"""Command: the audited ledger of operator commands.

A command row is its own outbox entry: `envelope` holds the signed message
committed with it, and a `pending` row with an envelope is one not yet on
Redis (the relay sends it, then marks it `dispatched`). One INSERT on an
emergency halt's path instead of a ledger row plus an outbox row.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Text
from sqlmodel import Column, Field, SQLModel

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
    # The signed SignedCommand JSON put on the bus (None: relayed by an outbox
    # row, as every command was before revision 0002).
    envelope: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The run's attempt when the command was issued: an ack from an earlier
    # attempt's worker (one presumed lost that came back) is refused.
    attempt: int = 1
