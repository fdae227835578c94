"""Redis restarted without persistence: what it lost becomes a persisted gap.

A restart empties every stream. Workers write on, the new entries' ids (times)
follow the old ones, and nothing in the new stream says that anything came
before it, so packets Redis held but the persister had not yet read would be
missing from history without a word. The persister notices a restart by a
marker key that vanishes with it; then, for each followed run whose stream
exists again, it compares the rows persisted before the stream's first entry
with what the stream once held before it (`StreamBounds.lost_after`). If the
stream did not continue from the newest of them, a `telemetry.gap` row after it
names the range up to the first entry, so every later replay shows it, long
after the stream itself has gone.
"""

import logging
from collections.abc import Iterable

from redis.asyncio import Redis

from api_schemas.bus import telemetry_stream
from api_schemas.telemetry import cursor_key
from app.db import SessionFactory
from app.telemetry import store
from app.telemetry.frames import GAP, gap_frame
from app.telemetry.replay import MARKER, StreamBounds, lost_after, stream_bounds

log = logging.getLogger("esper.persister")


class ResetWatch:
    """Per-run checks after a restart; one EXISTS a round otherwise."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.pending: set[str] = set()

    async def check(self, maker: SessionFactory, runs: Iterable[str]) -> int:
        """Check the runs pending since a restart; returns gap rows written.
        A first start also finds no marker: harmless, the check only reports a
        stream that does not continue from the history."""
        followed = set(runs)
        if not await self._redis.exists(MARKER):
            self.pending |= followed
            # At once, not once all are checked: a run whose stream never
            # comes back (queued, its worker gone) must not hide the next
            # restart. Replays check for themselves only until then.
            await self._redis.set(MARKER, "1")
        self.pending &= followed
        written = 0
        for run_id in sorted(self.pending):
            bounds = await stream_bounds(self._redis, telemetry_stream(run_id))
            if not bounds.exists:
                continue  # nothing written since the restart yet
            self.pending.discard(run_id)
            written += await record_gap(maker, run_id, bounds)
        return written


async def record_gap(maker: SessionFactory, run_id: str, bounds: StreamBounds) -> int:
    """A gap row after the newest row before the stream's first entry, if the
    stream does not continue from it; 1 if written."""
    first = bounds.first
    if first is None:
        return 0
    async with maker() as session:
        last = await store.last_row_before(session, run_id, first)
    if last is None or last.name == GAP or not await lost_after(maker, last, bounds):
        return 0
    ms, seq = cursor_key(last.cursor)
    cursor = f"{ms}-{seq + 1}"  # sorts right after `last`, before the loss
    if cursor_key(cursor) >= cursor_key(first):
        return 0  # no id fits between them: nothing can have been lost
    frame = gap_frame(run_id, last.cursor, first, last.ts.isoformat())
    async with maker() as session:
        # Replicas write the same row; the unique cursor index keeps one.
        await store.insert_batch(session, [store.record(run_id, cursor, frame)])
        await session.commit()
    log.warning(
        "Redis lost telemetry of run %s after %s, before %s (restarted without "
        "persistence?): recorded as a gap",
        run_id,
        last.cursor,
        first,
    )
    return 1
