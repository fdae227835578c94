"""History: every live run's telemetry written to the database in batches.

One multi-stream XREAD per cycle covers all tracked runs; its entries are
inserted in chunks of `chunk` rows (50: about a millisecond of work), one
short transaction each, with the event loop free between chunks: a cycle of
thousands of packets decoded and written in one go would hold the loop (and
SQLite's single write lock) for tens of milliseconds, and every command, ack
and request behind it would wait.
Positions restart from the database's newest row per run, so a restarted
gateway continues where history stops, and several replicas may persist the
same run (duplicates are skipped by the unique index).
The reader runs whether or not anyone watches the run.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.typing import KeyT, StreamIdT
from sqlmodel import col, or_, select

from api_schemas.bus import Entries, read_reply, telemetry_stream
from api_schemas.enums import LIVE_RUN_STATE_VALUES
from app import background, metrics
from app.db import SessionFactory
from app.models import Run
from app.seeds.store import SeedLineage
from app.telemetry import store
from app.telemetry.frames import decode_entry, is_final_state
from app.telemetry.resets import ResetWatch

log = logging.getLogger("esper.persister")
# A run that ended is still followed this long, for packets written after its
# state change (command outcomes, the final state packet itself).
LINGER = timedelta(minutes=2)


class Persister:
    def __init__(
        self,
        maker: SessionFactory,
        redis: Redis,
        *,
        batch: int = 2000,
        chunk: int = 50,
        interval_s: float = 0.25,
        discover_s: float = 1.0,
    ) -> None:
        self._maker = maker
        self._redis = redis
        self._batch = batch
        self._chunk = chunk
        self._interval = interval_s
        self._discover_s = discover_s
        self.positions: dict[str, str] = {}  # run id -> last persisted cursor
        self._finished: set[str] = set()  # saw the final state packet
        self._discovered_at = 0.0
        self._lineage = SeedLineage()  # seed rows, in the history's transaction
        self._resets = ResetWatch(redis)  # Redis restarts: lost ranges as gaps

    async def run_forever(self) -> None:
        await background.run_forever(
            self._cycle,
            log=log,
            lost="persister lost Redis, retrying: %s",
            error="persister error",
            retry_s=1.0,
        )

    async def _cycle(self) -> None:
        if time.monotonic() - self._discovered_at >= self._discover_s:
            await self.discover()
        # Finished runs too: a stream that reappeared between the check and
        # the read may have been read to its end already.
        await self._resets.check(self._maker, [*self.positions, *self._finished])
        if not await self.persist_once():
            await asyncio.sleep(self._interval)  # idle: let packets gather

    async def discover(self) -> None:
        """Follow live runs and runs that ended a moment ago."""
        self._discovered_at = time.monotonic()
        recent = datetime.now(UTC) - LINGER
        query = select(Run.id).where(
            or_(
                col(Run.state).in_(LIVE_RUN_STATE_VALUES),
                col(Run.finished_at) >= recent,
            )
        )
        async with self._maker() as session:
            wanted = set((await session.exec(query)).all())
            for run_id in wanted - self.positions.keys() - self._finished:
                self.positions[run_id] = (
                    await store.last_cursor(session, run_id) or "0-0"
                )
        for run_id in set(self.positions) - wanted:
            del self.positions[run_id]
        self._finished &= wanted

    async def persist_once(self) -> int:
        """Read what the tracked runs' streams hold past their positions and
        insert it chunk by chunk; returns the rows written."""
        if not self.positions:
            return 0
        streams: dict[KeyT, StreamIdT] = {
            telemetry_stream(r): c for r, c in self.positions.items()
        }
        reply = await self._redis.xread(streams, count=self._batch)
        written = 0
        for chunk in self._chunks(read_reply(reply, bytes)):
            written += await self._write(chunk)
            await asyncio.sleep(0)  # let requests and acks through
        return written

    def _chunks(
        self,
        reply: list[tuple[bytes, Entries[bytes]]],
    ) -> list[list[tuple[str, str, str]]]:
        """(run id, cursor, packet JSON) in stream order, `chunk` at a time."""
        entries: list[tuple[str, str, str]] = []
        for key, messages in reply:
            run_id = key.decode().rsplit(":", 1)[1]
            for message_id, fields in messages:
                cursor, data = decode_entry(message_id, fields)
                entries.append((run_id, cursor, data))
        size = self._chunk
        return [entries[i : i + size] for i in range(0, len(entries), size)]

    async def _write(self, chunk: list[tuple[str, str, str]]) -> int:
        rows, ends, finished = self._rows(chunk)
        if rows:
            async with self._maker() as session:
                await store.insert_batch(session, rows)
                # Seed lineage in the same transaction: history and seeds
                # resume together from the newest row after a restart.
                await self._lineage.apply(session, rows)
                await session.commit()
            self._lineage.committed()
        self.positions.update((r, c) for r, c in ends.items() if r in self.positions)
        for run_id in finished:
            self.positions.pop(run_id, None)
            self._finished.add(run_id)
        metrics.PACKETS_IN_TOTAL.inc(len(rows))
        metrics.HISTORY_ROWS_TOTAL.inc(len(rows))
        return len(rows)

    @staticmethod
    def _rows(
        chunk: list[tuple[str, str, str]],
    ) -> tuple[list[dict], dict[str, str], set[str]]:  # type: ignore[type-arg]
        rows: list[dict] = []  # type: ignore[type-arg]
        ends: dict[str, str] = {}
        finished: set[str] = set()
        for run_id, cursor, data in chunk:
            try:
                rows.append(store.record(run_id, cursor, data))
            except ValueError:
                log.warning("skipping malformed packet %s in %s", cursor, run_id)
            if is_final_state(data):
                finished.add(run_id)
            ends[run_id] = cursor
        return rows, ends, finished


async def prune_forever(
    maker: SessionFactory, days: float, interval_s: float, batch: int = 10_000
) -> None:
    """Retention: delete history rows older than `days` (0 keeps everything)."""

    async def prune() -> None:
        if deleted := await prune_once(maker, days, batch):
            log.info("pruned %d telemetry rows older than %s days", deleted, days)

    if days > 0:
        await background.run_forever(
            prune, log=log, error="telemetry pruning failed", every_s=interval_s
        )


async def prune_once(maker: SessionFactory, days: float, batch: int = 10_000) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=days)
    total = 0
    while True:
        async with maker() as session:
            deleted = await store.prune_before(session, cutoff, batch)
            await session.commit()
        total += deleted
        metrics.HISTORY_PRUNED_TOTAL.inc(deleted)
        if deleted < batch:
            return total
