"""Outbox: bus messages committed with the rows they belong to, relayed after commit.

Two paths put a committed row on Redis:
- the fast path: the request that committed it sends it at once (`send_now`),
  so a command reaches its worker a fraction of a millisecond after the commit;
- the relay loop: rows still unsent after a grace period (Redis was down, the
  gateway died between commit and send) are claimed and sent. The grace keeps
  the two paths from sending one row twice; on PostgreSQL the loop also claims
  with SKIP LOCKED, so several gateway replicas never relay the same row.
Nothing the API accepted is lost if Redis blips: the row waits in the table.
"""

import asyncio
import logging
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import bindparam, case, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import CommandState
from api_schemas.bus import DATA_FIELD, RUNS_STREAM
from app import metrics
from app.db import SessionFactory
from app.models import Command, Outbox, Run
from app.models._types import utcnow

log = logging.getLogger("esper.outbox")
BATCH = 200
OUTBOX_KEY = "esper.outbox"


def enqueue(session: AsyncSession, row: Outbox) -> None:
    """Add a bus message to this transaction; the router sends it after commit."""
    session.add(row)
    session.info.setdefault(OUTBOX_KEY, []).append(row)


def pending(session: AsyncSession) -> list[Outbox]:
    rows: list[Outbox] = session.info.pop(OUTBOX_KEY, [])
    return rows


class OutboxRelay:
    def __init__(self, maker: SessionFactory, redis: Redis,
                 interval_s: float = 0.2, grace_s: float = 2.0) -> None:
        self._maker = maker
        self._redis = redis
        self._interval = interval_s
        self._grace = timedelta(seconds=grace_s)

    async def send_now(self, rows: list[Outbox]) -> datetime | None:
        """The fast path, right after the commit; the loop retries on failure.
        Returns the `dispatched_at` it recorded (None when nothing was sent)."""
        if not rows:
            return None
        try:
            sent_at = await self._send(rows)
            async with self._maker() as session:
                await self._mark_sent(session, rows, sent_at)
                await session.commit()
            return sent_at
        except (RedisError, OSError) as exc:
            log.warning("fast relay failed, the loop will retry: %s", exc)
            return None

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
        async with self._maker() as session:
            rows = await self._claim(session)
            if rows:
                await self._mark_sent(session, rows, await self._send(rows))
            await session.commit()
            backlog = await self._backlog(session)
        metrics.OUTBOX_BACKLOG.set(backlog)
        return len(rows)

    async def _claim(self, session: AsyncSession) -> list[Outbox]:
        cutoff = utcnow() - self._grace
        query = (select(Outbox)
                 .where(col(Outbox.sent_at).is_(None), col(Outbox.created_at) < cutoff)
                 .order_by(col(Outbox.id)).limit(BATCH)
                 .with_for_update(skip_locked=True))
        return list((await session.exec(query)).all())

    async def _send(self, rows: list[Outbox]) -> datetime:
        """XADD the rows; returns the dispatch time, taken before the XADD: a
        worker's ack (stamped when the gateway reads it) can come back before
        the reply to the XADD does, and must not predate its dispatch."""
        sent_at = utcnow()
        pipe = self._redis.pipeline(transaction=False)
        for row in rows:
            pipe.xadd(row.stream, {DATA_FIELD: row.data})
        ids = await pipe.execute()
        for row, message_id in zip(rows, ids, strict=True):
            row.message_id = (message_id.decode() if isinstance(message_id, bytes)
                              else str(message_id))
        return sent_at

    async def _mark_sent(self, session: AsyncSession, rows: list[Outbox],
                         now: datetime) -> None:
        # Conditional UPDATEs, evaluated under the write lock: a worker's ack may
        # already have been applied (it can beat this commit), and a read-then-
        # write here would overwrite `applied` with `dispatched`.
        for row in rows:
            await session.exec(update(Outbox).where(  # type: ignore[call-overload]
                col(Outbox.id) == row.id, col(Outbox.sent_at).is_(None)).values(
                    sent_at=now, message_id=row.message_id,
                    attempts=Outbox.attempts + 1))
        command_ids = [r.command_id for r in rows if r.command_id]
        if command_ids:
            # One statement (it runs in the write turn an ack may be waiting
            # for): the first dispatch time, and `dispatched` only over `pending`.
            dispatched_at = col(Command.dispatched_at)
            await session.exec(update(Command).where(  # type: ignore[call-overload]
                col(Command.id).in_(command_ids)).values(
                    dispatched_at=func.coalesce(
                        dispatched_at, bindparam(None, now, type_=dispatched_at.type)),
                    state=case((Command.state == CommandState.pending.value,
                                CommandState.dispatched.value),
                               else_=Command.state)))
        await self._remember_assignments(session, rows)

    async def _remember_assignments(self, session: AsyncSession,
                                    rows: list[Outbox]) -> None:
        # The reaper acks a dead worker's assignment by its message id.
        for row in rows:
            if row.command_id is None and row.run_id and row.stream == RUNS_STREAM:
                await session.exec(update(Run).where(  # type: ignore[call-overload]
                    col(Run.id) == row.run_id).values(assignment_id=row.message_id))

    async def _backlog(self, session: AsyncSession) -> int:
        query = select(func.count()).select_from(Outbox).where(
            col(Outbox.sent_at).is_(None))
        return int((await session.exec(query)).one())
