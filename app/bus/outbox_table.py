"""The outbox table: bus messages committed beside the rows they belong to,
for a domain that has no table of its own to send them from (a run's
assignment). Each domain's share of it is an `OutboxRows` source."""

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.bus.outbox import BATCH, Message, count_where
from app.bus.publish import Packet
from app.models import Outbox

_OUTBOX = Outbox.__table__  # type: ignore[attr-defined]

# A send's record: only over a row still unsent.
_MARK_ROW = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"), _OUTBOX.c.sent_at.is_(None))
    .values(
        sent_at=bindparam("now"),
        message_id=bindparam("message"),
        attempts=_OUTBOX.c.attempts + 1,
    )
)


class OutboxRows:
    """The outbox table's rows that `owned` selects: one domain's messages,
    committed beside the rows they belong to. A subclass adds, in `sent`,
    what the owner records once they are on the bus."""

    def __init__(self, owned: Any) -> None:
        unsent = and_(_OUTBOX.c.sent_at.is_(None), owned)
        self._due = and_(unsent, _OUTBOX.c.created_at < bindparam("cutoff"))
        self.unsent = count_where(_OUTBOX, unsent)
        self.due = count_where(_OUTBOX, self._due)

    def message(self, row: Outbox) -> Message:
        return Message(row.stream, row.data, self, row)

    async def claim(
        self, session: AsyncSession, cutoff: dict[str, datetime]
    ) -> list[Message]:
        query = (
            select(Outbox)
            .where(self._due)
            .order_by(col(Outbox.id))
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        return [
            self.message(r) for r in (await session.exec(query, params=cutoff)).all()
        ]

    def announce(self, message: Message, sent_at: datetime) -> list[Packet]:
        return []  # the row's owner announces nothing of its send

    async def record(
        self, connection: AsyncConnection, sent: list[Message], sent_at: datetime
    ) -> None:
        await connection.execute(
            _MARK_ROW,
            [
                {"row_id": m.row.id, "now": sent_at, "message": m.message_id}
                for m in sent
            ],
        )
        await self.sent(connection, sent, sent_at)

    async def sent(
        self, connection: AsyncConnection, sent: list[Message], sent_at: datetime
    ) -> None:
        """The owner's record of its rows' send, in the same transaction."""
