"""WebSocket endpoints: a run's telemetry (`/ws/runs/{id}`) and the fleet (`/ws/fleet`)."""

import logging
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from redis.asyncio import Redis

from api_schemas import Role, RunState
from api_schemas.bus import FLEET_STREAM, telemetry_stream
from app import metrics
from app.deps import authenticate, bearer_token
from app.errors import AppError
from app.models import Run
from app.telemetry.frames import decode_entry, is_final_state, to_frame

log = logging.getLogger("esper.ws")
router = APIRouter(tags=["telemetry"])
CursorParam = Annotated[str | None, Query(max_length=64, pattern=r"^\d+(-\d+)?$")]


async def _authorise(websocket: WebSocket, token: str | None) -> bool:
    """Accept, then close with 4401/4403 if the caller may not watch."""
    app = websocket.app
    token = token or bearer_token(websocket.headers.get("authorization"))
    async with app.state.sessionmaker() as session:
        try:
            principal = await authenticate(token, session, app.state.settings)
        except AppError:
            await websocket.close(code=4401, reason="unauthorised")
            return False
    if not principal.role.allows(Role.viewer):
        await websocket.close(code=4403, reason="forbidden")
        return False
    return True


async def _stream(
    websocket: WebSocket, redis: Redis, key: str, after: str, stop_on_final: bool
) -> None:
    """Replay everything after `after`, then follow live, in order, without gaps."""
    last = after
    while True:
        reply = await redis.xread({key: last}, count=500, block=1000)
        for _key, messages in reply or []:
            for message_id, fields in messages:
                cursor, data = decode_entry(message_id, fields)
                await websocket.send_text(to_frame(cursor, data))
                metrics.PACKETS_OUT_TOTAL.inc()
                last = cursor
                if stop_on_final and is_final_state(data):
                    await websocket.close(code=1000, reason="run finished")
                    return


@router.websocket("/ws/runs/{run_id}")
async def stream_run_telemetry(
    websocket: WebSocket,
    run_id: str,
    after: CursorParam = None,
    token: str | None = None,
) -> None:
    """Replays a run's telemetry after `after`, then streams it live."""
    await websocket.accept()
    if not await _authorise(websocket, token):
        return
    async with websocket.app.state.sessionmaker() as session:
        run = await session.get(Run, run_id)
    if run is None:
        await websocket.close(code=4404, reason="unknown run")
        return
    await _serve(websocket, telemetry_stream(run_id), after or "0-0", "runs")


@router.websocket("/ws/fleet")
async def stream_fleet(
    websocket: WebSocket, after: CursorParam = None, token: str | None = None
) -> None:
    """Run state changes, command outcomes, worker changes, for every run."""
    await websocket.accept()
    if not await _authorise(websocket, token):
        return
    await _serve(websocket, FLEET_STREAM, after or "$", "fleet")


async def _serve(websocket: WebSocket, key: str, after: str, kind: str) -> None:
    metrics.WS_CLIENTS.labels(kind).inc()
    try:
        await _stream(
            websocket,
            websocket.app.state.redis,
            key,
            after,
            stop_on_final=kind == "runs",
        )
    except WebSocketDisconnect:
        pass
    finally:
        metrics.WS_CLIENTS.labels(kind).dec()


__all__ = ["router", "RunState"]
