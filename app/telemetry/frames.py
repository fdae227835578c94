"""Stream entries become WebSocket frames by splicing in the cursor: each packet's
JSON is produced once by its writer and never re-serialised per client."""

import json

TERMINAL_STATES = ('"completed"', '"failed"', '"cancelled"', '"halted"')
_NULL_CURSOR = '"cursor":null,'


def to_frame(cursor: str, data: str) -> str:
    """`{"cursor": "<id>", ...packet}` from the stored packet JSON."""
    body = data[1:]
    if body.startswith(_NULL_CURSOR):
        body = body[len(_NULL_CURSOR) :]
    return '{"cursor":"' + cursor + '",' + body


def is_final_state(data: str) -> bool:
    """A `state` packet carrying a terminal run state ends the run's stream."""
    if '"kind":"state"' not in data:
        return False
    packet = json.loads(data)
    return (
        packet.get("kind") == "state" and f'"{packet.get("value")}"' in TERMINAL_STATES
    )


def decode_entry(
    message_id: bytes | str, fields: dict[bytes, bytes]
) -> tuple[str, str]:
    cursor = message_id.decode() if isinstance(message_id, bytes) else message_id
    return cursor, fields[b"data"].decode()
