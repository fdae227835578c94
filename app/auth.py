"""Bearer tokens and roles.

Tokens are 256-bit random strings; only HMAC-SHA256(pepper, token) is stored. A
keyed hash is enough for tokens of that entropy (no dictionary to attack) and
keeps every request cheap; the pepper is ESPER_KEY_PEPPER or the Leyline secret.
"""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import bindparam
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.enums import Role
from app.models import ApiKey
from app.settings import Settings

log = logging.getLogger("esper.auth")
TOKEN_PREFIX = "esk_"
BOOTSTRAP_NAME = "bootstrap-admin"


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    auth: bool = True


LOCAL_PRINCIPAL = Principal(key_id="local", role=Role.admin, auth=False)


class KeyLookup(Protocol):
    """Finds a token's live key: the gateway's key cache (`app.state.keys`,
    app/keys/cache.py), typed here so authentication need not import it."""

    async def principal(
        self, session: AsyncSession, token: str, settings: Settings
    ) -> Principal | None: ...


def pepper(settings: Settings) -> bytes:
    return (settings.key_pepper or settings.leyline_secret or "esper-local").encode()


def hash_token(token: str, settings: Settings) -> str:
    return hmac.new(pepper(settings), token.encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


# Built once, Core and four columns: a token the key cache does not hold is
# looked up here (the ORM entity load cost about a quarter more on the VM).
_KEYS = ApiKey.__table__  # type: ignore[attr-defined]
_KEY_BY_HASH = select_columns(
    _KEYS.c.id, _KEYS.c.role, _KEYS.c.revoked_at, _KEYS.c.token_hash
).where(_KEYS.c.token_hash == bindparam("digest"))


async def principal_for_token(
    session: AsyncSession, token: str, settings: Settings
) -> Principal | None:
    return await principal_for_digest(session, hash_token(token, settings))


async def principal_for_digest(session: AsyncSession, digest: str) -> Principal | None:
    """The live key whose token has this digest (found by the digest's index)."""
    row = (await session.execute(_KEY_BY_HASH, {"digest": digest})).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.token_hash, digest):
        return None
    return Principal(key_id=row.id, role=Role(row.role))


async def ensure_bootstrap_admin(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> str | None:
    """Create the first admin key; returns a generated token to print once."""
    async with maker() as session:
        admins = (
            await session.exec(select(ApiKey).where(ApiKey.role == Role.admin.value))
        ).all()
        if any(k.revoked_at is None for k in admins):
            return None
        token = settings.admin_token or new_token()
        session.add(
            ApiKey(
                name=BOOTSTRAP_NAME,
                role=Role.admin.value,
                token_hash=hash_token(token, settings),
            )
        )
        await session.commit()
    return None if settings.admin_token else token
