"""Annotated dependencies every resource shares: settings, sessions (one that
reads; one that writes, commits and relays), Redis, the caller and its role.
No resource's service is imported here (a resource's own dependencies, such
as RunDep, live in its package)."""

import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.enums import Role
from app import metrics
from app.auth import LOCAL_PRINCIPAL, KeyLookup, Principal
from app.bus.outbox import Message, Relay, pending
from app.db import SerialWrites, session_scope
from app.errors import Forbidden, Unauthorized
from app.settings import Settings


# The dependencies below are `async def` though they never await: FastAPI runs a
# plain `def` dependency on a worker thread, and that hand-off (to the thread
# and back, each needing the GIL) put milliseconds on every authenticated
# request, an emergency halt's too, whenever the host was busy.
async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in session_scope(request.app.state.sessionmaker):
        yield session


async def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
# scope="function": commit before the response is sent, so a client that reads
# right after a 201 always finds the row (the default exits after sending).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
RedisDep = Annotated[Redis, Depends(get_redis)]


class Writes:
    """A writing request's session. Its writes are made in the gateway's write
    turn (SQLite: one writer at a time, so the commit never sleeps behind a
    background loop's) and committed before the turn passes on."""

    def __init__(
        self, session: AsyncSession, turns: SerialWrites, relay: Relay
    ) -> None:
        self.session = session
        self.relay = relay
        self._turns = turns
        self._turn = contextlib.AsyncExitStack()

    async def take_turn(self) -> None:
        await self._turn.enter_async_context(self._turns.turn())

    async def pass_turn(self) -> None:
        await self._turn.aclose()  # a second call finds nothing to release

    async def commit(self) -> list[Message]:
        """Commit, pass the turn on, and return what the writes put in the
        outbox (a second call finds nothing left)."""
        try:
            await self.session.commit()
        finally:
            await self.pass_turn()
        return pending(self.session)

    async def commit_and_send(self) -> datetime | None:
        """`get_writes`'s work, done now and the dispatch recorded before it
        returns: for a route that waits for the outcome (a worker's ack)
        before it answers. Returns the dispatch time (None: not sent)."""
        return await self.relay.send_now(await self.commit())


async def get_writes(
    request: Request, session: SessionDep, background: BackgroundTasks
) -> AsyncIterator[Writes]:
    """The one place a request's writes are committed and relayed: by the
    time the route answers, its rows are committed and their messages (a
    run's assignment, a command) are on the bus. The record of the dispatch
    follows in the background; if Redis fails, the relay loop sends them
    after its grace."""
    writes = Writes(session, request.app.state.writes, request.app.state.relay)
    await writes.take_turn()
    try:
        yield writes
        messages = await writes.commit()
    finally:
        await writes.pass_turn()  # on an error: uncommitted (SessionDep rolls back)
    if messages:
        sent_at = await writes.relay.send(messages)
        background.add_task(writes.relay.record, messages, sent_at)


# scope="function", like SessionDep: relayed before the response is sent. List
# it after the caller's role in a route's parameters: FastAPI resolves them in
# order, and authenticating the caller need not hold the write turn.
WritesDep = Annotated[Writes, Depends(get_writes, scope="function")]


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def authenticate(
    token: str | None, session: AsyncSession, settings: Settings, keys: KeyLookup
) -> Principal:
    """The caller of a request or WebSocket; raises Unauthorized."""
    if not settings.auth_enabled:
        return LOCAL_PRINCIPAL
    if token is None:
        metrics.AUTH_REJECTED.inc()
        raise Unauthorized("Missing bearer token.", code="missing_token")
    principal = await keys.principal(session, token, settings)
    if principal is None:
        metrics.AUTH_REJECTED.inc()
        raise Unauthorized("Invalid or revoked token.", code="invalid_token")
    return principal


# Declares the bearer scheme in the OpenAPI document (so /docs has Authorize
# and generated clients send the token); never refuses by itself, so a
# missing token is still our 401 with its error code, and auth=off still works.
BEARER = HTTPBearer(
    auto_error=False, description="An API key's token: `Authorization: Bearer esk_...`."
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
# The role each `require` dependency asks for, read by app/openapi.py to
# declare which operations can answer 403.
REQUIRED_ROLES: dict[Callable[..., Any], Role] = {}


def require(role: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Dependency factory: the caller, who must hold at least `role`."""

    async def dependency(
        session: SessionDep,
        settings: SettingsDep,
        request: Request,
        credentials: BearerDep,
    ) -> Principal:
        token = (credentials.credentials.strip() or None) if credentials else None
        principal = await authenticate(token, session, settings, request.app.state.keys)
        if not principal.role.allows(role):
            raise Forbidden(
                f"This needs the {role.value} role; the token has "
                f"{principal.role.value}.",
                code="insufficient_role",
            )
        limiter = getattr(request.app.state, "rate_limit", None)
        if limiter is not None:  # app/ratelimit.py: 429 past the key's limit
            await limiter.check(request, principal)
        return principal

    REQUIRED_ROLES[dependency] = role
    return dependency


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Operator = Annotated[Principal, Depends(require(Role.operator))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
