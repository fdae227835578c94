"""Outbox: bus messages committed with the rows they belong to, relayed after commit.

Each domain's messages wait in a table, an `OutboxSource`: a run's assignment
in the outbox table (app/bus/outbox_table.py), a command in the ledger itself
(one INSERT on an emergency halt's path instead of two). The relay knows a
source only as its rows not yet sent, the packets that announce a send, and
the record of one; app/wiring.py names the sources.

Two paths send them:
- the fast path: the request that committed them XADDs them at once, before
  it answers (`send`), and records the dispatch afterwards (`record`);
- the relay loop: rows still unsent after a grace period (Redis was down, the
  gateway died between commit and send) are claimed and sent. The grace keeps
  the two paths from sending one row twice; on PostgreSQL the loop also claims
  with SKIP LOCKED, so several gateway replicas never relay the same row.
Nothing the API accepted is lost if Redis blips: the row waits in its table.
"""

import asyncio
import logging
import operator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from typing import Any, ClassVar, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.bus import DATA_FIELD
from app import background, metrics
from app.bus.publish import Packet, add_packet
from app.db import SessionFactory
from app.models._types import utcnow

log = logging.getLogger("esper.outbox")
BATCH = 200
OUTBOX_KEY = "esper.outbox"


@dataclass
class Message:
    """One committed row's bus message, waiting for (or just given) its XADD."""

    stream: str
    data: str
    source: "OutboxSource"  # the table it waits in, which records its send
    row: Any  # that table's row, as its source reads it
    message_id: str | None = None


class OutboxSource(Protocol):
    """A table whose committed rows wait for the bus: a domain's outbox.

    `unsent` and `due` are scalar subqueries built once: its rows not yet
    sent, and those of them past the fast path's grace (older than the
    `cutoff` parameter). The relay's idle tick counts with them and `claim`
    selects with the same predicates, so a row counted due is a row claimed.
    """

    unsent: Any
    due: Any

    async def claim(
        self, session: AsyncSession, cutoff: dict[str, datetime]
    ) -> list[Message]:
        """Up to BATCH due rows, locked (SKIP LOCKED), as messages."""
        ...

    def announce(self, message: Message, sent_at: datetime) -> list[Packet]:
        """Packets that go on the streams in the message's own MULTI/EXEC."""
        ...

    async def record(
        self, connection: AsyncConnection, sent: list[Message], sent_at: datetime
    ) -> None:
        """The record of a send: conditional UPDATEs, under the write lock."""
        ...


def count_where(table: Any, where: Any) -> Any:
    """A scalar subquery: how many of `table`'s rows `where` selects."""
    return select(func.count()).select_from(table).where(where).scalar_subquery()


def enqueue(session: AsyncSession, message: Message) -> None:
    """A message whose row this transaction writes, to send once it commits."""
    session.info.setdefault(OUTBOX_KEY, []).append(message)


def pending(session: AsyncSession) -> list[Message]:
    """This session's messages, to send once its transaction is committed."""
    messages: list[Message] = session.info.pop(OUTBOX_KEY, [])
    return messages


class Relay:
    """Puts committed messages on the bus: `send` for the request that
    committed them, `run_forever` for what that left behind. A subclass names
    the tables it relays from in `sources` (app/wiring.py)."""

    sources: ClassVar[tuple[OutboxSource, ...]] = ()

    def __init__(
        self,
        maker: SessionFactory,
        redis: Redis,
        interval_s: float = 0.2,
        grace_s: float = 2.0,
        telemetry_maxlen: int = 100_000,
        fast_timeout_s: float = 1.0,
        reads: SessionFactory | None = None,
    ) -> None:
        self._maker = maker
        # The loop's look for due rows, outside the write turn (`maker` may be
        # SerialWrites): it finds none nearly every time.
        self._reads = reads or maker
        self._fast_timeout = fast_timeout_s
        self._redis = redis
        self._interval = interval_s
        self._grace = timedelta(seconds=grace_s)
        self._maxlen = telemetry_maxlen
        # (unsent rows, those of them due) over every source: the tick's one read.
        self._counts = select(
            reduce(operator.add, [s.unsent for s in self.sources]),
            reduce(operator.add, [s.due for s in self.sources]),
        )

    async def send(self, messages: list[Message]) -> datetime | None:
        """XADD the messages, each with its source's packets in the same
        MULTI/EXEC; returns the dispatch time, or None when nothing was sent
        (the loop retries after its grace). Both paths send through here.

        One transaction: no worker can read a command before its packets are
        on the streams, so its outcome packet (from the worker's ack) always
        comes after them, whichever gateway replica consumes the ack; and the
        request waits for one round trip instead of two.

        Bounded by `fast_timeout_s`: a request answers after it, and a Redis
        that accepts connections but does not reply must not hang it. (If the
        XADD did land, the loop's resend is refused by the worker as a
        replayed nonce, and the ledger keeps the first outcome.)"""
        if not messages:
            return None
        try:
            return await asyncio.wait_for(self._xadd(messages), self._fast_timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("relay failed, the loop will retry: %r", exc)
            return None

    async def record(self, messages: list[Message], sent_at: datetime | None) -> None:
        """The fast path's record of a dispatch (a request's background task)."""
        if sent_at is None:
            return
        async with self._maker() as session:
            await self._mark_sent(session, messages, sent_at)
            await session.commit()

    async def send_now(self, messages: list[Message]) -> datetime | None:
        """`send`, then `record`; returns the dispatch time (None: not sent)."""
        sent_at = await self.send(messages)
        await self.record(messages, sent_at)
        return sent_at

    async def run_forever(self) -> None:
        await asyncio.sleep(self._interval)
        await background.run_forever(
            self.relay_once,
            log=log,
            lost="outbox relay failed, will retry: %s",
            error="outbox relay error",
            every_s=self._interval,
        )

    async def relay_once(self) -> int:
        """Send what the fast path left past its grace; returns how many were sent.

        A read first: the write turn (on SQLite, every request's commit waits
        for it) is taken only when something is due, not five times a second."""
        cutoff = {"cutoff": utcnow() - self._grace}
        async with self._reads() as session:
            backlog, due = (await session.execute(self._counts, cutoff)).one()
        metrics.OUTBOX_BACKLOG.set(backlog)
        if not due:
            return 0
        async with self._maker() as session:
            messages = [
                m
                for source in self.sources
                for m in await source.claim(session, cutoff)
            ]
            if (sent_at := await self.send(messages)) is None:
                messages = []
            else:
                await self._mark_sent(session, messages, sent_at)
            await session.commit()
        # What this tick sent is off the backlog: no second count in the turn.
        metrics.OUTBOX_BACKLOG.set(max(0, backlog - len(messages)))
        return len(messages)

    async def _xadd(self, messages: list[Message]) -> datetime:
        """XADD the messages and their packets; returns the dispatch time,
        taken before the XADD: a worker's ack (stamped when the gateway reads
        it) can come back before the reply to the XADD does, and must not
        predate its dispatch."""
        sent_at = utcnow()
        pipe = self._redis.pipeline(transaction=True)
        for message in messages:
            pipe.xadd(message.stream, {DATA_FIELD: message.data})
        self._announce(pipe, messages, sent_at)
        # Errors come back per command: a packet that failed must not make a
        # message that landed look unsent (it would be sent twice).
        replies = await pipe.execute(raise_on_error=False)
        ids, packets = replies[: len(messages)], replies[len(messages) :]
        for reply in ids:
            if isinstance(reply, Exception):
                raise reply
        if failed := [r for r in packets if isinstance(r, Exception)]:
            log.warning("announcing packets not published: %r", failed[0])
        for message, message_id in zip(messages, ids, strict=True):
            message.message_id = (
                message_id.decode()
                if isinstance(message_id, bytes)
                else str(message_id)
            )
        return sent_at

    def _announce(
        self, pipe: Pipeline, messages: list[Message], sent_at: datetime
    ) -> None:
        for message in messages:
            for run_id, data in message.source.announce(message, sent_at):
                add_packet(
                    pipe, data, run_id=run_id, run_stream=True, maxlen=self._maxlen
                )

    async def _mark_sent(
        self, session: AsyncSession, messages: list[Message], now: datetime
    ) -> None:
        # Each source's conditional UPDATEs, evaluated under the write lock: a
        # worker's ack may already have been applied, and a read-then-write
        # here would overwrite `applied` with `dispatched`.
        connection = await session.connection()
        for source in dict.fromkeys(m.source for m in messages):
            await source.record(
                connection, [m for m in messages if m.source is source], now
            )
