"""Live API keys held in memory, so authenticating a request is a dict lookup.

Every authenticated request looked its key up in the database, an emergency
halt's included: about 1 ms of that path on the H200 host with auth on. The
gateway now holds every live key by token digest and reloads them every
`reload_s` (ESPER_KEY_RELOAD_S, 1 s). A key revoked on this gateway stops
working at once; on another replica within `reload_s`. A digest not held (a
key another replica made a moment ago, or a bad token) is looked up in the
database as before.
"""

import logging

from sqlalchemy import bindparam, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.enums import Role
from app import background, metrics
from app.auth import Principal, hash_token, principal_for_digest
from app.db import SessionFactory
from app.models import ApiKey
from app.settings import Settings

log = logging.getLogger("esper.keys")
_KEYS = ApiKey.__table__  # type: ignore[attr-defined]
_LIVE_KEYS = select(_KEYS.c.id, _KEYS.c.role, _KEYS.c.token_hash).where(
    _KEYS.c.revoked_at.is_(None)
)
_REVOKED_AT = select(_KEYS.c.revoked_at).where(_KEYS.c.id == bindparam("key_id"))


class KeyCache:
    def __init__(self) -> None:
        self._by_digest: dict[str, Principal] = {}
        # Bumped by every revocation: a load that began before one (a reload,
        # a miss's lookup) must not put the revoked key back.
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, digest: str) -> Principal | None:
        return self._by_digest.get(digest)

    def holds(self, key_id: str) -> bool:
        """Whether the key is live as of the last reload or revocation: open
        WebSockets ask this, so a revoked key's sockets close (app/telemetry/
        connection.py)."""
        return any(p.key_id == key_id for p in self._by_digest.values())

    async def still_live(self, maker: SessionFactory, key_id: str) -> bool:
        """Held, or live in the database: a miss's lookup that raced a
        revocation was not held, and its key is live until the next reload.
        A database that does not answer keeps the key (as a failed reload
        keeps the ones held)."""
        if self.holds(key_id):
            return True
        try:
            async with maker() as session:
                row = (await session.execute(_REVOKED_AT, {"key_id": key_id})).first()
        except Exception:  # noqa: BLE001 - any failure: keep the socket
            log.warning("checking key %s failed; keeping its sockets", key_id)
            return True
        return row is not None and row.revoked_at is None

    def add(self, digest: str, principal: Principal, generation: int) -> None:
        """A key found by a miss's lookup, begun at `generation`."""
        if generation == self._generation:
            self._by_digest[digest] = principal

    def forget(self, key_id: str) -> None:
        self._generation += 1
        self._by_digest = {
            d: p for d, p in self._by_digest.items() if p.key_id != key_id
        }

    async def principal(
        self, session: AsyncSession, token: str, settings: Settings
    ) -> Principal | None:
        """The live key the token belongs to: held, or looked up (then held)."""
        digest = hash_token(token, settings)
        if (held := self.get(digest)) is not None:
            metrics.AUTH_HELD.inc()
            return held
        generation = self._generation
        principal = await principal_for_digest(session, digest)
        if principal is None:
            return None
        metrics.AUTH_LOOKED_UP.inc()
        self.add(digest, principal, generation)
        return principal

    async def reload(self, session: AsyncSession) -> None:
        generation = self._generation
        rows = (await session.execute(_LIVE_KEYS)).all()
        if generation == self._generation:
            self._by_digest = {
                r.token_hash: Principal(key_id=r.id, role=Role(r.role)) for r in rows
            }

    async def reload_forever(self, maker: SessionFactory, interval_s: float) -> None:
        async def reload() -> None:
            async with maker() as session:
                await self.reload(session)

        await background.run_forever(
            reload,
            log=log,
            error="reloading API keys failed; keeping the ones held",
            every_s=interval_s,
        )
