"""The WebSocket API as an AsyncAPI 3.0 document, served at GET /asyncapi.json.

Built from the code it describes: the frame payloads are the pydantic models'
JSON schemas (api_schemas.telemetry), the query parameters are ws.py's, the
close codes are CLOSE_CODES below (the codes ws.py, connection.py and the guards
close with). The application described is the gateway: it *sends* frames and
*receives* a client's `ping`. clients/asyncapi.json is this document, committed.
"""

from functools import cache
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api_schemas.enums import PacketKind
from api_schemas.telemetry import PongFrame, TelemetryPacket
from app.telemetry.frames import GAP

router = APIRouter()

ASYNCAPI_VERSION = "3.0.0"
WS_BINDING_VERSION = "0.1.0"
SCHEMA_REF = "#/components/schemas/{model}"
# Every code a /ws/* socket is closed with, and why (API.md, WebSocket).
CLOSE_CODES: dict[int, str] = {
    1000: "Normal close: the run reached a terminal state (after its final "
    "`state` frame).",
    1008: "Policy violation: a NUL character in the URL (refused at the handshake).",
    4401: "Unauthorised: no valid token or ticket, or the key was revoked while "
    "connected.",
    4403: "Forbidden: the role is too low, or the browser's Origin is not allowed.",
    4404: "Unknown run.",
    4408: "Client too slow: its queue overflowed. The close reason is the last "
    "cursor delivered; reconnect with ?after=<that cursor> to miss nothing.",
}
RESUME_RULE = (
    "Resume: every frame carries an opaque, increasing `cursor`. Reconnect with "
    "`?after=<last cursor received>` (after a drop, or from a 4408 close's reason) "
    "and the server first replays every packet after that cursor, in order and "
    "without gaps (from Redis while the stream holds it, from the database after), "
    "then streams live. Packets that cannot be recovered are announced by a "
    f"`{GAP}` event whose attrs name the missing range (`from`, `to`), never "
    "silently."
)
AUTH_RULE = (
    "Auth: the `Authorization: Bearer <token>` header (role viewer or above), or "
    "for browsers a single-use `?ticket=` from POST /api/v1/ws-tickets, valid "
    "30 s. Tokens never travel in a URL."
)
QUERY_AFTER = {
    "type": "string",
    "pattern": r"^\d+(-\d+)?$",
    "maxLength": 64,
    "description": "Resume cursor: replay every packet after it, then stream live.",
}
QUERY_NAMES = {
    "type": "string",
    "maxLength": 2000,
    "description": "Comma-separated fnmatch globs on the packet `name` "
    "(e.g. `tolaria.*,kasmina.seed.*`); frames of other names are not sent.",
}
QUERY_TICKET = {
    "type": "string",
    "maxLength": 100,
    "description": "Single-use ticket from POST /api/v1/ws-tickets (browsers).",
}


def _schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """Each model's JSON schema, its nested definitions hoisted beside it."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=SCHEMA_REF, mode="serialization")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _ws_bindings(query: dict[str, Any]) -> dict[str, Any]:
    return {
        "ws": {
            "method": "GET",
            "query": {"type": "object", "properties": query},
            "headers": {
                "type": "object",
                "properties": {
                    "Authorization": {
                        "type": "string",
                        "description": "`Bearer <token>` (or pass ?ticket=).",
                    }
                },
            },
            "bindingVersion": WS_BINDING_VERSION,
        }
    }


def _messages() -> dict[str, Any]:
    packet = {"$ref": SCHEMA_REF.format(model="TelemetryPacket")}
    kinds = ", ".join(f"`{kind.value}`" for kind in PacketKind)
    return {
        "TelemetryFrame": {
            "name": "TelemetryFrame",
            "title": "Telemetry frame",
            "summary": f"One packet ({kinds}) with its cursor.",
            "description": "`metric`: a value per step or epoch "
            "(`tolaria.step.loss`, ...). `event`: something happened, with a "
            "`level` (warnings and critical events included). `seed`: a seed's "
            "stage or alpha changed. `state`: the run's state (a terminal value "
            "ends the run's socket, code 1000). `command`: a command's outcome.",
            "payload": packet,
        },
        "GapEvent": {
            "name": "GapEvent",
            "title": "Gap event",
            "summary": f"`kind: event`, `name: {GAP}`: packets are lost.",
            "description": "Packets strictly between `attrs.from` and `attrs.to` "
            "could not be recovered (e.g. Redis lost them before they were "
            "persisted). Its `cursor` is `attrs.from`.",
            "payload": packet,
        },
        "PongFrame": {
            "name": "PongFrame",
            "title": "Pong",
            "summary": "The reply to a client's `ping`; carries the last cursor.",
            "payload": {"$ref": SCHEMA_REF.format(model="PongFrame")},
        },
        "Ping": {
            "name": "Ping",
            "title": "Ping",
            "summary": "A text message containing `ping`; answered by a PongFrame.",
            "payload": {"type": "string", "const": "ping"},
        },
    }


def _channel(address: str, description: str, query: dict[str, Any]) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": address,
        "description": f"{description}\n\n{RESUME_RULE}\n\n{AUTH_RULE}",
        "messages": {
            name: {"$ref": f"#/components/messages/{name}"}
            for name in ("TelemetryFrame", "GapEvent", "PongFrame", "Ping")
        },
        "bindings": _ws_bindings(query),
        "x-close-codes": {str(code): why for code, why in CLOSE_CODES.items()},
    }
    if "{run_id}" in address:
        channel["parameters"] = {"run_id": {"description": "The run's id (UUID)."}}
    return channel


def _operations(channel: str) -> dict[str, Any]:
    ref = {"$ref": f"#/channels/{channel}"}
    security = [
        {"$ref": "#/components/securitySchemes/bearer"},
        {"$ref": "#/components/securitySchemes/ticket"},
    ]

    def messages(*names: str) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names]

    return {
        f"{channel}Send": {
            "action": "send",
            "channel": ref,
            "title": "Frames to the client",
            "security": security,
            "messages": messages("TelemetryFrame", "GapEvent", "PongFrame"),
        },
        f"{channel}Receive": {
            "action": "receive",
            "channel": ref,
            "title": "Keep-alive from the client",
            "security": security,
            "messages": messages("Ping"),
        },
    }


@cache
def build_asyncapi() -> dict[str, Any]:
    """The document (built once per process; the app does not change)."""
    query = {"after": QUERY_AFTER, "names": QUERY_NAMES, "ticket": QUERY_TICKET}
    channels = {
        "runTelemetry": _channel(
            "/ws/runs/{run_id}",
            "One run's telemetry: without `after` the whole history is replayed "
            "from the start, then live; closes 1000 after the run's final "
            "`state` frame.",
            query,
        ),
        "fleet": _channel(
            "/ws/fleet",
            "Run state changes, command outcomes, worker changes and critical "
            "events for every run; live only unless `after` is given.",
            query,
        ),
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Esper WebSocket API",
            "version": "0.1.0",
            "description": "Live telemetry of Esper runs and of the fleet. Every "
            "frame is one JSON text message.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": {**_operations("runTelemetry"), **_operations("fleet")},
        "components": {
            "schemas": _schemas(TelemetryPacket, PongFrame),
            "messages": _messages(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "ticket": {"type": "httpApiKey", "name": "ticket", "in": "query"},
            },
        },
    }


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi_json() -> dict[str, Any]:
    """The AsyncAPI 3 document of /ws/runs/{run_id} and /ws/fleet (public)."""
    return build_asyncapi()
