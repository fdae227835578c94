"""WebSocket endpoints: a run's telemetry (`/ws/runs/{id}`) and `/ws/fleet`.

Both are served by the process-wide hub (`app.state.hub`): one Redis reader per
stream, however many clients watch it. Close codes: 4401/4403 auth, 4404 unknown
run, 4408 too slow (reason: the last cursor delivered), 1000 after the run's
final state packet. Keep-alive: the server answers a client's `ping` text with
a `{"type":"pong","cursor":...}` frame; protocol-level pings are uvicorn's
(`--ws-ping-interval`, 20 s by default).
"""

import fnmatch
import re
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket

from api_schemas import Role, RunState
from api_schemas.bus import FLEET_STREAM, telemetry_stream
from app.deps import authenticate, bearer_token
from app.errors import AppError
from app.models import Run
from app.telemetry.connection import Connection
from app.telemetry.hub import Matcher
from app.telemetry.replay import Replayer

router = APIRouter(tags=["telemetry"])
CursorParam = Annotated[str | None, Query(max_length=64, pattern=r"^\d+(-\d+)?$")]
NamesParam = Annotated[
    str | None,
    Query(max_length=2000, description="Comma-separated fnmatch globs on `name`."),
]


def name_matcher(names: str | None) -> Matcher | None:
    """One compiled regex for all globs (`tolaria.*,kasmina.seed.?`)."""
    globs = [g.strip() for g in (names or "").split(",") if g.strip()]
    if not globs:
        return None
    return re.compile("|".join(fnmatch.translate(g) for g in globs)).match


async def _authorise(websocket: WebSocket, token: str | None) -> bool:
    """Accept, then close with 4401/4403 if the caller may not watch."""
    app = websocket.app
    token = token or bearer_token(websocket.headers.get("authorization"))
    async with app.state.sessionmaker() as session:
        try:
            principal = await authenticate(
                token, session, app.state.settings, app.state.keys
            )
        except AppError:
            await websocket.close(code=4401, reason="unauthorised")
            return False
    if not principal.role.allows(Role.viewer):
        await websocket.close(code=4403, reason="forbidden")
        return False
    return True


@router.websocket("/ws/runs/{run_id}")
async def stream_run_telemetry(
    websocket: WebSocket,
    run_id: str,
    after: CursorParam = None,
    names: NamesParam = None,
    token: str | None = None,
) -> None:
    """Replays a run's telemetry after `after` (default: from the start), then
    streams it live; closes 1000 after the final state packet."""
    await websocket.accept()
    if not await _authorise(websocket, token):
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
        websocket, replayer, "runs", run_ended=RunState(run.state).terminal
    )
    await connection.serve(after or "0-0", name_matcher(names))


@router.websocket("/ws/fleet")
async def stream_fleet(
    websocket: WebSocket,
    after: CursorParam = None,
    names: NamesParam = None,
    token: str | None = None,
) -> None:
    """Run state changes, command outcomes, worker changes, for every run;
    live only unless `after` is given."""
    await websocket.accept()
    if not await _authorise(websocket, token):
        return
    replayer = Replayer(websocket.app.state.redis, None, FLEET_STREAM, None)
    await Connection(websocket, replayer, "fleet").serve(after, name_matcher(names))
