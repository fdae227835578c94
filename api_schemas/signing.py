"""Leyline command signing: HMAC-SHA256 over a canonical serialisation.

The gateway signs, the worker verifies. Keys are looked up by id so they can be
rotated: add a new key, switch the signing key id, retire the old one later.
"""

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from api_schemas.bus import SignedCommand
from api_schemas.enums import RejectionReason

DEFAULT_MAX_AGE_S = 300.0
DEFAULT_MAX_SKEW_S = 5.0


class SignatureError(Exception):
    """Raised with one of the documented rejection reasons as its `reason`."""

    def __init__(self, reason: RejectionReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def canonical_bytes(command: SignedCommand) -> bytes:
    """Sorted keys, no whitespace, ASCII: the same bytes on every platform."""
    body: dict[str, Any] = command.model_dump(mode="json", exclude={"signature"})
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode()


def sign(command: SignedCommand, keys: Mapping[str, str]) -> SignedCommand:
    secret = keys[command.key_id]
    digest = hmac.new(secret.encode(), canonical_bytes(command), hashlib.sha256)
    return command.model_copy(update={"signature": digest.hexdigest()})


def verify(
    command: SignedCommand,
    keys: Mapping[str, str],
    *,
    now: float | None = None,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    max_skew_s: float = DEFAULT_MAX_SKEW_S,
) -> None:
    """Check key, signature and freshness; the nonce ledger is the caller's."""
    secret = keys.get(command.key_id)
    if secret is None:
        raise SignatureError(
            RejectionReason.unknown_key, f"no signing key {command.key_id!r}"
        )
    expected = hmac.new(secret.encode(), canonical_bytes(command), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), command.signature):
        raise SignatureError(
            RejectionReason.invalid_signature, "signature does not match"
        )
    now = time.time() if now is None else now
    if command.issued_at > now + max_skew_s:
        raise SignatureError(
            RejectionReason.issued_in_future, "issued-at is ahead of this clock"
        )
    if command.issued_at < now - max_age_s:
        raise SignatureError(
            RejectionReason.stale_command, "command is older than the window"
        )


def parse_keyring(
    primary: str | None, extra: str | None, primary_id: str = "k1"
) -> dict[str, str]:
    """`ESPER_LEYLINE_SECRET` plus `ESPER_LEYLINE_KEYS` (`id=secret,id=secret`)."""
    keys: dict[str, str] = {}
    if primary:
        keys[primary_id] = primary
    for item in (extra or "").split(","):
        key_id, sep, secret = item.strip().partition("=")
        if sep and key_id and secret:
            keys[key_id] = secret
    return keys
