"""Annotated dependencies every resource shares: settings, session, Redis, the
caller and its role. No resource's service is imported here (a resource's own
dependencies, such as RunDep, live in its package)."""

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.enums import Role
from app import metrics
from app.auth import LOCAL_PRINCIPAL, KeyLookup, Principal
from app.db import session_scope
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


def require(role: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Dependency factory: the caller, who must hold at least `role`."""

    async def dependency(
        request: Request, session: SessionDep, settings: SettingsDep
    ) -> Principal:
        token = bearer_token(request.headers.get("authorization"))
        principal = await authenticate(token, session, settings, request.app.state.keys)
        if not principal.role.allows(role):
            raise Forbidden(
                f"This needs the {role.value} role; the token has "
                f"{principal.role.value}.",
                code="insufficient_role",
            )
        return principal

    return dependency


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Operator = Annotated[Principal, Depends(require(Role.operator))]
Admin = Annotated[Principal, Depends(require(Role.admin))]

