"""A ledger row as the API's Command. Kept apart from the service so the bus
(the relay, the event applier, the reaper) can build command packets from it
without importing the service, which imports the bus."""

from typing import Any

from api_schemas import CommandRead, CommandState, CommandType
from app.models import Command
from app.models._types import as_utc


def command_read(command: Command) -> CommandRead:
    data: dict[str, Any] = {
        "id": command.id,
        "run_id": command.run_id,
        "type": CommandType(command.type),
        "params": command.params or {},
        "state": CommandState(command.state),
        "issued_by": command.issued_by,
        "issued_at": as_utc(command.issued_at),
        "dispatched_at": as_utc(command.dispatched_at),
        "acked_at": as_utc(command.acked_at),
        "result": command.result or {},
        "reason": command.reason,
    }
    return CommandRead.model_validate(data)
