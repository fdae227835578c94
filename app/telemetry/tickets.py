"""Single-use WebSocket tickets (API.md, WebSocket): `POST /api/v1/ws-tickets`.

A browser cannot set `Authorization` on a WebSocket, and a token in the URL
ends up in access logs and proxies. The dashboard trades its token for a ticket
bound to the caller's key, valid once for TICKET_TTL_S. Tickets live in Redis
with a TTL, so whichever replica takes the WebSocket can redeem it, and are
taken with GETDEL, so two connections can never both use one.
"""

import json
import secrets

from fastapi import APIRouter
from redis.asyncio import Redis

from api_schemas.enums import Role
from api_schemas.keys import WsTicket
from app.auth import Principal
from app.deps import RedisDep, Viewer
from app.errors import error_responses

router = APIRouter(prefix="/api/v1", tags=["telemetry"])
TICKET_TTL_S = 30
_PREFIX = "esper:ws-ticket:"


async def issue(redis: Redis, principal: Principal) -> str:
    ticket = secrets.token_urlsafe(32)
    value = json.dumps({"key_id": principal.key_id, "role": principal.role.value})
    await redis.set(_PREFIX + ticket, value, ex=TICKET_TTL_S)
    return ticket


async def redeem(redis: Redis, ticket: str) -> Principal | None:
    """The key the ticket was issued to; None if unknown, used or expired."""
    raw = await redis.getdel(_PREFIX + ticket[:100])
    if raw is None:
        return None
    data = json.loads(raw)
    return Principal(key_id=data["key_id"], role=Role(data["role"]))


@router.post(
    "/ws-tickets",
    status_code=201,
    operation_id="create_ws_ticket",
    responses=error_responses(401, 403),
)
async def create_ws_ticket(redis: RedisDep, principal: Viewer) -> WsTicket:
    """A single-use ticket for one WebSocket connection (`?ticket=`)."""
    ticket = await issue(redis, principal)
    return WsTicket(ticket=ticket, expires_in=TICKET_TTL_S)
