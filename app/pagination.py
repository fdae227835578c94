"""Opaque keyset cursors: base64 of the last row's sort key, never an offset."""

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query

from app.errors import AppError

LimitQuery = Annotated[int, Query(ge=1, le=500, description="Page size (1..500).")]
CursorQuery = Annotated[
    str | None, Query(max_length=500, description="Opaque cursor from a page.")
]


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise AppError("Malformed cursor.", code="invalid_cursor") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise AppError("Malformed cursor.", code="invalid_cursor")
    return values


def decode_keyset(cursor: str) -> tuple[datetime, str]:
    """A `(time, id)` cursor, each part checked: a crafted one is a 400, never a
    database error (PostgreSQL refuses an integer compared with a text id)."""
    when, row_id = decode_cursor(cursor, 2)
    if not isinstance(when, str) or not isinstance(row_id, str) or "\x00" in row_id:
        raise AppError("Malformed cursor.", code="invalid_cursor")
    try:
        at = datetime.fromisoformat(when)
    except ValueError as exc:
        raise AppError("Malformed cursor.", code="invalid_cursor") from exc
    # Rows are stored in UTC; a naive or offset time is compared as UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC), row_id
