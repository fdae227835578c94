"""The command ledger as the relay's sources (app/bus/outbox.py).

A ledger row is its own outbox entry: a `pending` command with a signed
envelope is one not yet on the bus, and its send marks it `dispatched`.
Commands issued before revision 0002 wait in an outbox row of their own.
"""

from datetime import datetime

from sqlalchemy import and_, bindparam, case, func, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import CommandState
from api_schemas.bus import BROADCAST_STREAM, command_stream
from app.bus.outbox import BATCH, Message, count_where
from app.bus.outbox_table import OutboxRows
from app.bus.publish import Packet
from app.commands.ledger import command_packet, command_read
from app.models import Command, Outbox

PENDING = CommandState.pending.value
_COMMAND = Command.__table__  # type: ignore[attr-defined]
_OUTBOX = Outbox.__table__  # type: ignore[attr-defined]
_UNSENT = and_(_COMMAND.c.state == PENDING, _COMMAND.c.envelope.is_not(None))
_DUE = and_(_UNSENT, _COMMAND.c.issued_at < bindparam("cutoff"))
# The first dispatch time, and `dispatched` only over `pending`: a worker's ack
# may already have been applied (it can beat this commit).
_MARK_DISPATCHED = (
    update(_COMMAND)
    .where(_COMMAND.c.id == bindparam("command_id"))
    .values(
        dispatched_at=func.coalesce(_COMMAND.c.dispatched_at, bindparam("now")),
        state=case(
            (_COMMAND.c.state == PENDING, CommandState.dispatched.value),
            else_=_COMMAND.c.state,
        ),
    )
)


async def _mark_dispatched(
    connection: AsyncConnection, command_ids: list[str], now: datetime
) -> None:
    await connection.execute(
        _MARK_DISPATCHED, [{"command_id": i, "now": now} for i in command_ids]
    )


class CommandEnvelopes:
    """Ledger rows with their signed envelopes, sent to their run's command
    stream (no run: the broadcast stream)."""

    unsent = count_where(_COMMAND, _UNSENT)
    due = count_where(_COMMAND, _DUE)

    def message(self, command: Command) -> Message:
        assert command.envelope is not None
        stream = command_stream(command.run_id) if command.run_id else BROADCAST_STREAM
        return Message(stream, command.envelope, self, command)

    async def claim(
        self, session: AsyncSession, cutoff: dict[str, datetime]
    ) -> list[Message]:
        query = (
            select(Command)
            .where(_DUE)
            .order_by(col(Command.issued_at))
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        return [
            self.message(c) for c in (await session.exec(query, params=cutoff)).all()
        ]

    def announce(self, message: Message, sent_at: datetime) -> list[Packet]:
        """The command's `pending` and `dispatched` packets: on the streams
        before any worker can read it, so its outcome packet comes after."""
        command: Command = message.row
        read = command_read(command)
        dispatched = read.model_copy(
            update={"state": CommandState.dispatched, "dispatched_at": sent_at}
        )
        return [
            (command.run_id, command_packet(command, announced))
            for announced in (read, dispatched)
        ]

    async def record(
        self, connection: AsyncConnection, sent: list[Message], sent_at: datetime
    ) -> None:
        await _mark_dispatched(connection, [m.row.id for m in sent], sent_at)


class LegacyCommandRows(OutboxRows):
    """Outbox rows that carry a command (every command before revision
    0002); their send marks the command dispatched too."""

    def __init__(self) -> None:
        super().__init__(_OUTBOX.c.command_id.is_not(None))

    async def sent(
        self, connection: AsyncConnection, sent: list[Message], sent_at: datetime
    ) -> None:
        await _mark_dispatched(connection, [m.row.command_id for m in sent], sent_at)


COMMAND_ENVELOPES = CommandEnvelopes()
LEGACY_COMMAND_ROWS = LegacyCommandRows()
