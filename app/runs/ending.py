"""A halt or a cancel of a run no worker has started: the gateway ends it.

A `queued` run has no worker to apply the command (every worker busy, or
none), and one that claims it after the command window would refuse the
command as stale and train the run to the end. So the command that would
stop it ends the run itself, in the same transaction: the run becomes
`halted` (an emergency halt) or `cancelled` (a stop), and the command is
`applied` by the gateway (`result.ended_by`), never sent to a worker.

Only `queued`: an `assigned` run is held by a worker that reads its command
stream from the start, so the command reaches it like any other.

The worker has no database, so the end also goes on the bus: one entry on
`esper:run:{id}:ended`, from the outbox table (durable, relayed after
commit like an assignment). A worker checks for it when it claims the run,
and again while training (with its attempt fence), so one that claimed the
run just before the end stands down at once.
"""

import json
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import CommandState, CommandType, Level, RunState
from api_schemas.bus import run_ended_stream
from app.bus.outbox import Message, enqueue
from app.bus.outbox_table import OutboxRows
from app.bus.publish import Packet
from app.commands.ledger import command_packet
from app.models import Command, Outbox, Run
from app.models._types import utcnow
from app.runs.packets import state_packet

_RUN = Run.__table__  # type: ignore[attr-defined]
_OUTBOX = Outbox.__table__  # type: ignore[attr-defined]
ENDED_BY_GATEWAY = "gateway"
# The commands that end a run, and the state each ends it in.
ENDS_RUN = {
    CommandType.emergency_halt.value: RunState.halted,
    CommandType.stop.value: RunState.cancelled,
}
# One statement: the run ends only if it is still queued when it runs; it
# returns the run's attempt for the command's row.
_END_IF_QUEUED = (
    update(_RUN)
    .where(_RUN.c.id == bindparam("run"), _RUN.c.state == RunState.queued.value)
    .values(
        state=bindparam("state"),
        finished_at=bindparam("now"),
        halt_reason=bindparam("halt_reason"),
    )
    .returning(_RUN.c.attempt)
)


class RunEndings(OutboxRows):
    """Outbox rows on `esper:run:{id}:ended`; their send announces the run's
    end and its command's outcome."""

    def __init__(self) -> None:
        super().__init__(_OUTBOX.c.stream.like(run_ended_stream("%")))

    def announce(self, message: Message, sent_at: datetime) -> list[Packet]:
        ended = json.loads(message.data)
        state = RunState(ended["state"])
        attrs = {"halt_reason": ended.get("halt_reason"), "ended_by": "gateway"}
        run_id = message.row.run_id
        return [
            (run_id, ended["command_packet"]),
            (run_id, state_packet(run_id, state, Level.critical, attrs)),
        ]


RUN_ENDINGS = RunEndings()


async def end_if_queued(session: AsyncSession, command: Command) -> bool:
    """End the command's run if no worker has started it; True if it did.

    Then the command, not yet written, is added as `applied` (by the
    gateway) and its run's end is queued for the bus; it is never sent."""
    state = ENDS_RUN.get(command.type)
    if state is None or command.run_id is None:
        return False
    now = utcnow()
    reason = (command.params or {}).get("reason") if state is RunState.halted else None
    connection: AsyncConnection = await session.connection()
    attempt = (
        await connection.execute(
            _END_IF_QUEUED,
            {
                "run": command.run_id,
                "state": state.value,
                "now": now,
                "halt_reason": reason,
            },
        )
    ).scalar_one_or_none()
    if attempt is None:
        return False
    command.attempt, command.state, command.acked_at = (
        attempt,
        CommandState.applied.value,
        now,
    )
    command.result = {"ended_by": ENDED_BY_GATEWAY, "state": state.value}
    session.add(command)
    _announce_end(session, command, state, reason)
    await session.flush()
    return True


def _announce_end(
    session: AsyncSession, command: Command, state: RunState, reason: str | None
) -> None:
    assert command.run_id is not None
    data = {
        "state": state.value,
        "command_id": command.id,
        "halt_reason": reason,
        "command_packet": command_packet(command),
    }
    row = Outbox(
        stream=run_ended_stream(command.run_id),
        data=json.dumps(data),
        run_id=command.run_id,
        command_id=None,
    )
    session.add(row)
    enqueue(session, RUN_ENDINGS.message(row))
