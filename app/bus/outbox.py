"""Outbox: bus messages committed with the rows they belong to, relayed after commit.

Two kinds of row wait to be put on Redis:
- outbox rows (run assignments);
- command ledger rows, each its own outbox entry: a `pending` command with a
  signed `envelope` is one not yet on the bus (one INSERT on an emergency
  halt's path instead of two).

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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError
from sqlalchemy import and_, bindparam, case, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import CommandState
from api_schemas.bus import BROADCAST_STREAM, DATA_FIELD, RUNS_STREAM, command_stream
from app import metrics
from app.bus.apply import command_packet
from app.bus.publish import add_packet
from app.commands.reads import command_read
from app.db import SessionFactory
from app.models import Command, Outbox, Run
from app.models._types import utcnow

log = logging.getLogger("esper.outbox")
BATCH = 200
OUTBOX_KEY = "esper.outbox"
PENDING = CommandState.pending.value
_OUTBOX = Outbox.__table__  # type: ignore[attr-defined]
_COMMAND = Command.__table__  # type: ignore[attr-defined]
_RUN = Run.__table__  # type: ignore[attr-defined]

# Built once (SQLAlchemy caches a statement's compiled form by its structure,
# but building and keying a new one each time cost more than running it).

# What the relay sends: outbox rows not yet sent, and `pending` commands with
# an envelope (a command from before revision 0002 has its outbox row
# instead). Due: past the fast path's grace (`cutoff`). The idle tick's count
# and the claim share them, so a row counted due is a row claimed.
_UNSENT_ROW = _OUTBOX.c.sent_at.is_(None)
_UNSENT_COMMAND = and_(_COMMAND.c.state == PENDING, _COMMAND.c.envelope.is_not(None))
_ROW_DUE = and_(_UNSENT_ROW, _OUTBOX.c.created_at < bindparam("cutoff"))
_COMMAND_DUE = and_(_UNSENT_COMMAND, _COMMAND.c.issued_at < bindparam("cutoff"))


def _count(table: Any, where: Any) -> Any:
    return select(func.count()).select_from(table).where(where).scalar_subquery()


# (unsent rows and commands, those of them due): the relay tick's one read.
_COUNTS = select(_count(_OUTBOX, _UNSENT_ROW) + _count(_COMMAND, _UNSENT_COMMAND),
                 _count(_OUTBOX, _ROW_DUE) + _count(_COMMAND, _COMMAND_DUE))
# A send's record: only over a row still unsent.
_MARK_OUTBOX = (update(_OUTBOX)
                .where(_OUTBOX.c.id == bindparam("row_id"), _UNSENT_ROW)
                .values(sent_at=bindparam("now"), message_id=bindparam("message"),
                        attempts=_OUTBOX.c.attempts + 1))
# The first dispatch time, and `dispatched` only over `pending`: a worker's ack
# may already have been applied (it can beat this commit).
_MARK_COMMAND = (update(_COMMAND)
                 .where(_COMMAND.c.id == bindparam("command_id"))
                 .values(dispatched_at=func.coalesce(_COMMAND.c.dispatched_at,
                                                     bindparam("now")),
                         state=case((_COMMAND.c.state == PENDING,
                                     CommandState.dispatched.value),
                                    else_=_COMMAND.c.state)))
# The reaper acks a dead worker's assignment by its message id.
_REMEMBER_ASSIGNMENT = (update(_RUN).where(_RUN.c.id == bindparam("run"))
                        .values(assignment_id=bindparam("message")))


@dataclass
class Message:
    """One committed row's bus message, waiting for (or just given) its XADD."""

    stream: str
    data: str
    row: Outbox | None = None
    command: Command | None = None
    message_id: str | None = None

    @property
    def command_id(self) -> str | None:
        """The ledger row this message dispatches (an outbox row with a command
        id: a command issued before revision 0002)."""
        if self.command is not None:
            return self.command.id
        return self.row.command_id if self.row is not None else None

    @classmethod
    def of_command(cls, command: Command) -> "Message":
        assert command.envelope is not None
        stream = command_stream(command.run_id) if command.run_id else BROADCAST_STREAM
        return cls(stream, command.envelope, command=command)

    @classmethod
    def of_row(cls, row: Outbox) -> "Message":
        return cls(row.stream, row.data, row=row)


def enqueue(session: AsyncSession, row: Outbox) -> None:
    """Add an outbox row to this transaction; the router sends it after commit."""
    session.add(row)
    session.info.setdefault(OUTBOX_KEY, []).append(row)


def enqueue_command(session: AsyncSession, command: Command) -> None:
    """A ledger row with its envelope, written by the caller, to send after commit."""
    session.info.setdefault(OUTBOX_KEY, []).append(command)


def pending(session: AsyncSession) -> list[Message]:
    """This session's messages, to send once its transaction is committed."""
    rows: list[Outbox | Command] = session.info.pop(OUTBOX_KEY, [])
    return [Message.of_command(r) if isinstance(r, Command) else Message.of_row(r)
            for r in rows]


class OutboxRelay:
    def __init__(self, maker: SessionFactory, redis: Redis,
                 interval_s: float = 0.2, grace_s: float = 2.0,
                 telemetry_maxlen: int = 100_000, fast_timeout_s: float = 1.0,
                 reads: SessionFactory | None = None) -> None:
        self._maker = maker
        # The loop's look for due rows, outside the write turn (`maker` may be
        # SerialWrites): it finds none nearly every time.
        self._reads = reads or maker
        self._fast_timeout = fast_timeout_s
        self._redis = redis
        self._interval = interval_s
        self._grace = timedelta(seconds=grace_s)
        self._maxlen = telemetry_maxlen

    async def send(self, messages: list[Message]) -> datetime | None:
        """XADD the messages, with each command's `pending` and `dispatched`
        packets in the same MULTI/EXEC; returns the dispatch time, or None
        when nothing was sent (the loop retries after its grace). Both paths
        send through here.

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
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.relay_once()
            except (RedisError, OSError) as exc:
                log.warning("outbox relay failed, will retry: %s", exc)
            except Exception:
                log.exception("outbox relay error")

    async def relay_once(self) -> int:
        """Send what the fast path left past its grace; returns how many were sent.

        A read first: the write turn (on SQLite, every request's commit waits
        for it) is taken only when something is due, not five times a second."""
        cutoff = {"cutoff": utcnow() - self._grace}
        async with self._reads() as session:
            backlog, due = (await session.execute(_COUNTS, cutoff)).one()
        metrics.OUTBOX_BACKLOG.set(backlog)
        if not due:
            return 0
        async with self._maker() as session:
            messages = await self._claim(session, cutoff)
            if (sent_at := await self.send(messages)) is None:
                messages = []
            else:
                await self._mark_sent(session, messages, sent_at)
            await session.commit()
        # What this tick sent is off the backlog: no second count in the turn.
        metrics.OUTBOX_BACKLOG.set(max(0, backlog - len(messages)))
        return len(messages)

    async def _claim(self, session: AsyncSession,
                     cutoff: dict[str, datetime]) -> list[Message]:
        rows = (select(Outbox).where(_ROW_DUE).order_by(col(Outbox.id)).limit(BATCH)
                .with_for_update(skip_locked=True))
        commands = (select(Command).where(_COMMAND_DUE)
                    .order_by(col(Command.issued_at)).limit(BATCH)
                    .with_for_update(skip_locked=True))
        return ([Message.of_row(r)
                 for r in (await session.exec(rows, params=cutoff)).all()]
                + [Message.of_command(c)
                   for c in (await session.exec(commands, params=cutoff)).all()])

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
        # command that landed look unsent (it would be sent twice).
        replies = await pipe.execute(raise_on_error=False)
        ids, packets = replies[:len(messages)], replies[len(messages):]
        for reply in ids:
            if isinstance(reply, Exception):
                raise reply
        if failed := [r for r in packets if isinstance(r, Exception)]:
            log.warning("command packets not published: %r", failed[0])
        for message, message_id in zip(messages, ids, strict=True):
            message.message_id = (message_id.decode() if isinstance(message_id, bytes)
                                  else str(message_id))
        return sent_at

    def _announce(self, pipe: Pipeline, messages: list[Message],
                  sent_at: datetime) -> None:
        """Queue each command's `pending` and `dispatched` `command` packets."""
        for command in (m.command for m in messages if m.command is not None):
            read = command_read(command)
            dispatched = read.model_copy(update={"state": CommandState.dispatched,
                                                 "dispatched_at": sent_at})
            for announced in (read, dispatched):
                add_packet(pipe, command_packet(command, announced),
                           run_id=command.run_id, run_stream=True, maxlen=self._maxlen)

    async def _mark_sent(self, session: AsyncSession, messages: list[Message],
                         now: datetime) -> None:
        # Conditional UPDATEs, evaluated under the write lock: a worker's ack may
        # already have been applied, and a read-then-write here would overwrite
        # `applied` with `dispatched`.
        connection = await session.connection()
        rows = [{"row_id": m.row.id, "now": now, "message": m.message_id}
                for m in messages if m.row is not None]
        commands = [{"command_id": m.command_id, "now": now}
                    for m in messages if m.command_id is not None]
        assignments = [{"run": m.row.run_id, "message": m.message_id}
                       for m in messages if m.row is not None and m.row.run_id
                       and m.stream == RUNS_STREAM]
        for statement, params in ((_MARK_OUTBOX, rows), (_MARK_COMMAND, commands),
                                  (_REMEMBER_ASSIGNMENT, assignments)):
            if params:
                await connection.execute(statement, params)
