"""Browser origins, and tokens kept out of logs.

With auth off (local mode) the gateway has no credential a foreign page lacks:
any page the user visits could POST an emergency halt to 127.0.0.1 or read
telemetry over a WebSocket (browsers do not apply CORS to WebSockets, nor to a
"simple" POST's sending). So a request that changes state, and every WebSocket,
must come from the gateway's own origin or one in ESPER_ALLOWED_ORIGINS, when it
names an origin at all: curl and other non-browser clients send none and stay
allowed. CORS answers only those configured origins.
"""

import json
import logging
import re
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import error_body

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A secret's value in a query string: `?token=...` (refused since tickets, but a
# client may still send one) and the single-use `?ticket=`.
_SECRET_QUERY = re.compile(r"((?:^|[?&])(?:token|ticket)=)[^&\s\"']*")


def same_origin(origin: str, host: str | None) -> bool:
    """The Origin's host[:port] is the one the request was sent to."""
    return host is not None and urlsplit(origin).netloc == host


class OriginCheck:
    """403 `origin_not_allowed` for a foreign Origin on a state-changing
    request; a foreign WebSocket is refused before it is accepted."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    def _allowed(self, scope: Scope) -> bool:
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin")
        if origin is None:
            return True
        value = origin.decode("latin-1").rstrip("/")
        host = headers.get(b"host")
        return value in self.allowed or same_origin(
            value, host.decode("latin-1") if host else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        guarded = kind == "websocket" or (
            kind == "http" and scope["method"] not in SAFE_METHODS
        )
        if not guarded or self._allowed(scope):
            await self.app(scope, receive, send)
        elif kind == "websocket":
            # Closing before accepting answers the handshake with HTTP 403.
            await send({"type": "websocket.close", "code": 4403})
        else:
            await _forbid(send)


async def _forbid(send: Send) -> None:
    body = json.dumps(
        error_body(
            "origin_not_allowed",
            "Requests from this origin are not allowed; see ESPER_ALLOWED_ORIGINS.",
        )
    ).encode()
    headers = [(b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def redact(text: str) -> str:
    return _SECRET_QUERY.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """uvicorn logs each request's path with its query string (the access log,
    and "WebSocket /ws/...?..." lines on uvicorn.error): blank secrets in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install(app: FastAPI, allowed: frozenset[str]) -> None:
    """Origin check, strict CORS, and the log filter on uvicorn's loggers."""
    app.add_middleware(OriginCheck, allowed=allowed)
    if allowed:
        # Added after the check, so it runs first and answers preflights.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=sorted(allowed),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Retry-After", "ETag", "Content-Range"],
        )
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
