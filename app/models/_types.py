"""Column helpers shared by the tables."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime
from sqlmodel import Column, Field


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def json_field(default: Any = None) -> Any:
    factory = (lambda: {}) if default is None else default
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


def time_field(nullable: bool = True, index: bool = False) -> Any:
    kwargs: dict[str, Any] = (
        {"default": None} if nullable else {"default_factory": utcnow}
    )
    return Field(
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
        **kwargs,
    )


def bigint_field(default: int = 0, index: bool = False) -> Any:
    return Field(
        default=default, sa_column=Column(BigInteger, nullable=False, index=index)
    )
