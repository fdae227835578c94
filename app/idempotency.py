"""Idempotency-Key support: the same key and body returns the original resource."""

import hashlib
import json
from typing import Annotated, Any

from fastapi import Header

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat-safe key: same key and body returns the original.",
    ),
]


def request_hash(body: Any) -> str:
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def scoped_key(principal_id: str, key: str | None) -> str | None:
    """Keys are per caller, so two clients cannot collide on the same key."""
    return None if key is None else f"{principal_id}:{key}"
