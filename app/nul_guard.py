"""Refuse a request whose path or query holds a NUL character, before any route.

PostgreSQL cannot store or compare text holding NUL (U+0000): a run id, a
command id, a label filter or telemetry names carrying one reached the database
and failed there as a 500. No valid id, name or filter holds one, so the request
is refused (400 `invalid_characters`) in one place, whatever route it is for.
Bodies are checked by their schemas (api_schemas/strict.py).
"""

from urllib.parse import unquote_to_bytes

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import error_body

CODE = "invalid_characters"
MESSAGE = "The path or query string contains a NUL character."


def has_nul(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    query = bytes(scope.get("query_string", b""))
    return "\x00" in path or b"\x00" in unquote_to_bytes(query)


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not has_nul(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # Closing before accept answers the handshake with 403.
            await send({"type": "websocket.close", "code": 1008, "reason": CODE})
            return
        response = JSONResponse(error_body(CODE, MESSAGE), status_code=400)
        await response(scope, receive, send)
