"""Stream entries become WebSocket frames by splicing in the cursor: each packet's
JSON is produced once by its writer and never re-serialised per client."""

import json
import re
from datetime import datetime
from typing import Any

from api_schemas.enums import TERMINAL_RUN_STATE_VALUES
from api_schemas.telemetry import PongFrame

_NULL_CURSOR = ('"cursor":null,', '"cursor": null, ')
# Writers put `name` before `attrs` (workers: kind, name, ...; the gateway's
# TelemetryPacket: run_id, ts, kind, name, ...), so the first match is the packet's.
_NAME = re.compile(r'"name":\s*"((?:[^"\\]|\\.)*)"')
_STATE_KIND = re.compile(r'"kind":\s*"state"')
GAP = "telemetry.gap"  # the event naming packets that are gone


def to_frame(cursor: str, data: str) -> str:
    """`{"cursor": "<id>", ...packet}` from the stored packet JSON."""
    body = data[1:]
    for null in _NULL_CURSOR:
        if body.startswith(null):
            body = body[len(null) :]
            break
    if body.lstrip() == "}":
        return '{"cursor":"' + cursor + '"}'
    return '{"cursor":"' + cursor + '",' + body


def packet_name(data: str) -> str:
    """The packet's `name` without parsing the whole JSON (a few hundred ns)."""
    match = _NAME.search(data)
    return match.group(1) if match else ""


def is_final_state(data: str) -> bool:
    """A `state` packet carrying a terminal run state ends the run's stream.

    Workers write JSON with `": "` separators and the gateway without, so the
    cheap pre-check tolerates both before the (rare) full parse.
    """
    if '"state"' not in data or not _STATE_KIND.search(data):
        return False
    packet = json.loads(data)
    return (
        packet.get("kind") == "state"
        and packet.get("value") in TERMINAL_RUN_STATE_VALUES
    )


def decode_entry(
    message_id: bytes | str, fields: dict[bytes, bytes]
) -> tuple[str, str]:
    cursor = message_id.decode() if isinstance(message_id, bytes) else message_id
    return cursor, fields[b"data"].decode()


def dump_frame(packet: dict[str, Any]) -> str:
    """A frame built by the gateway itself (history replay, gap, pong)."""
    return json.dumps(packet, separators=(",", ":"), default=_default)


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def gap_frame(run_id: str | None, after: str, to: str, ts: str) -> str:
    """The explicit `telemetry.gap` event: packets strictly between `from` and `to`
    are gone (trimmed from Redis and absent from the database)."""
    return dump_frame(
        {
            "cursor": after,
            "run_id": run_id,
            "ts": ts,
            "kind": "event",
            "name": GAP,
            "value": None,
            "step": None,
            "epoch": None,
            "level": "warning",
            "attrs": {"from": after, "to": to},
        }
    )


def pong_frame(cursor: str | None) -> str:
    """The reply to a client's `ping`: not a packet, so it carries `type`."""
    return PongFrame(cursor=cursor).model_dump_json()
