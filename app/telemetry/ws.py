"""WebSocket endpoints: a run's telemetry (`/ws/runs/{id}`) and `/ws/fleet`.

Both are served by the process-wide hub (`app.state.hub`): one Redis reader per
stream, however many clients watch it. Close codes: 4401/4403 auth, 4404 unknown
run, 4408 too slow (reason: the last cursor delivered), 1000 after the run's
final state packet, 4401 once the caller's key is revoked (checked every
ESPER_KEY_RELOAD_S). Auth: the `Authorization` header or a single-use `?ticket=`
(tickets.py); a token never travels in the URL, so none reaches an access log.
Keep-alive: the server answers a client's `ping` text with
a `{"type":"pong","cursor":...}` frame; protocol-level pings are uvicorn's
(`--ws-ping-interval`, 20 s by default).
"""

import fnmatch
import re
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket
from pydantic import AfterValidator

from api_schemas import Role, RunState
from api_schemas.bus import FLEET_STREAM, telemetry_stream
from api_schemas.telemetry import cursor_key
from app import metrics
from app.auth import LOCAL_PRINCIPAL, Principal
from app.deps import authenticate, bearer_token
from app.errors import AppError
from app.models import Run
from app.telemetry.connection import Connection
from app.telemetry.hub import Matcher
from app.telemetry.replay import Replayer
from app.telemetry.tickets import redeem

router = APIRouter(tags=["telemetry"])
# Cursors are Redis stream ids (`ms-seq`) kept in two signed 64-bit columns;
# a larger part overflowed the database driver (a 500, found by the fuzz run).
CURSOR_PART_MAX = 2**63 - 1


def _cursor_in_range(cursor: str | None) -> str | None:
    if cursor is not None and max(cursor_key(cursor)) > CURSOR_PART_MAX:
        raise ValueError(f"cursor parts must be at most {CURSOR_PART_MAX}")
    return cursor


CursorParam = Annotated[
    str | None,
    Query(max_length=64, pattern=r"^\d+(-\d+)?$"),
    AfterValidator(_cursor_in_range),
]
NamesParam = Annotated[
    str | None,
    Query(max_length=2000, description="Comma-separated fnmatch globs on `name`."),
]
TicketParam = Annotated[
    str | None,
    Query(max_length=100, description="From POST /api/v1/ws-tickets; single use."),
]


def name_matcher(names: str | None) -> Matcher | None:
    """One compiled regex for all globs (`tolaria.*,kasmina.seed.?`)."""
    globs = [g.strip() for g in (names or "").split(",") if g.strip()]
    if not globs:
        return None
    return re.compile("|".join(fnmatch.translate(g) for g in globs)).match


async def _caller(websocket: WebSocket, ticket: str | None) -> Principal | None:
    """The ticket's key (used or expired: None), else the header's."""
    app = websocket.app
    if not app.state.settings.auth_enabled:
        return LOCAL_PRINCIPAL
    if ticket is not None:
        principal = await redeem(app.state.redis, ticket)
        keys, maker = app.state.keys, app.state.sessionmaker
        if principal is None or not await keys.still_live(maker, principal.key_id):
            metrics.AUTH_REJECTED.inc()  # as a refused token: the alert sees it
            return None
        return principal
    token = bearer_token(websocket.headers.get("authorization"))
    async with app.state.sessionmaker() as session:
        try:
            return await authenticate(
                token, session, app.state.settings, app.state.keys
            )
        except AppError:
            return None


async def _authorise(websocket: WebSocket, ticket: str | None) -> Principal | None:
    """Accept, then close with 4401/4403 if the caller may not watch."""
    principal = await _caller(websocket, ticket)
    if principal is None:
        await websocket.close(code=4401, reason="unauthorised")
        return None
    if not principal.role.allows(Role.viewer):
        await websocket.close(code=4403, reason="forbidden")
        return None
    return principal


@router.websocket("/ws/runs/{run_id}")
async def stream_run_telemetry(
    websocket: WebSocket,
    run_id: str,
    after: CursorParam = None,
    names: NamesParam = None,
    ticket: TicketParam = None,
) -> None:
    """Replays a run's telemetry after `after` (default: from the start), then
    streams it live; closes 1000 after the final state packet."""
    await websocket.accept()
    if (principal := await _authorise(websocket, ticket)) is None:
        return
    async with websocket.app.state.sessionmaker() as session:
        run = await session.get(Run, run_id)
    if run is None:
        await websocket.close(code=4404, reason="unknown run")
        return
    state = websocket.app.state
    replayer = Replayer(
        state.redis, state.sessionmaker, telemetry_stream(run_id), run_id
    )
    connection = Connection(
        websocket,
        replayer,
        "runs",
        run_ended=RunState(run.state).terminal,
        key_id=_watched(principal),
    )
    await connection.serve(after or "0-0", name_matcher(names))


@router.websocket("/ws/fleet")
async def stream_fleet(
    websocket: WebSocket,
    after: CursorParam = None,
    names: NamesParam = None,
    ticket: TicketParam = None,
) -> None:
    """Run state changes, command outcomes, worker changes, for every run;
    live only unless `after` is given."""
    await websocket.accept()
    if (principal := await _authorise(websocket, ticket)) is None:
        return
    replayer = Replayer(websocket.app.state.redis, None, FLEET_STREAM, None)
    connection = Connection(websocket, replayer, "fleet", key_id=_watched(principal))
    await connection.serve(after, name_matcher(names))


def _watched(principal: Principal) -> str | None:
    """The key whose revocation closes the socket (none with auth off)."""
    return principal.key_id if principal.auth else None
