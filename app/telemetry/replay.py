"""Replay for `?after=`: the database for what Redis has trimmed, then Redis.

Redis is authoritative from the stream's first entry on; whatever precedes it
comes from the `telemetry` table, whether Redis trimmed it or lost it in a
restart without persistence (the new stream's counters know nothing of the old
one, so they are not trusted to say nothing came before). If neither holds the
range, a `telemetry.gap` event names it: history is never silently short.
After a restart that the persister has not yet dealt with (its marker key is
gone), a database part that does not account for what the stream says came
before its first entry (`entries-added` - `length`, Redis >= 7; older servers:
assumed) ends with a gap up to that entry; the persister records the same gap
as a row, so later replays show it from the database.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.bus import range_reply
from api_schemas.telemetry import cursor_key
from app import metrics
from app.db import SessionFactory
from app.telemetry import store
from app.telemetry.frames import (
    GAP,
    decode_entry,
    gap_frame,
    is_final_state,
    to_frame,
)

PAGE = 1000
# Gone with everything else in a restart; set again by the persister once it
# has noticed (it then checks each run as its stream reappears).
MARKER = "esper:persister:epoch"
Frame = tuple[str, str, bool]  # cursor, frame text, final


@dataclass(frozen=True)
class StreamBounds:
    exists: bool
    trimmed: bool | None  # entries were removed; None: unknown (Redis < 7)
    first: str | None
    before: int | None = None  # entries once held before `first`; None: Redis < 7

    @property
    def known_trim(self) -> bool:
        return bool(self.trimmed)

    def trimmed_after(self, after: str) -> bool:
        """Whether entries after `after` may have left the stream (trimming
        removes the oldest entries, so those before the first that remains)."""
        if not self.exists:
            return True
        if self.first is None:
            return False
        # Not `trimmed`: a stream recreated after a restart has never been.
        return cursor_key(self.first) > cursor_key(after)

    def lost_after(self, last: str, persisted: int) -> bool:
        """Whether entries between `last` (the newest row persisted before the
        first entry) and the first entry may be gone: the stream continued from
        the history only if it once held exactly the `persisted` packets
        before its first entry (the persister reads without holes)."""
        if not self.exists or self.first is None:
            return False
        if cursor_key(last) >= cursor_key(self.first):
            return False
        return self.before is None or self.before != persisted


async def stream_bounds(redis: Redis, key: str) -> StreamBounds:
    try:
        info = await redis.xinfo_stream(key)
    except ResponseError:  # no such key: trimmed away, expired, or never written
        return StreamBounds(False, None, None)
    added = info.get("entries-added")  # Redis >= 7
    trimmed = None if added is None else int(added) > int(info["length"])
    first = info.get("first-entry")
    before = None if added is None else int(added) - int(info["length"])
    return StreamBounds(True, trimmed, _text(first[0]) if first else None, before)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def redis_range(
    redis: Redis, key: str, after: str, upto: str
) -> AsyncIterator[Frame]:
    """Entries in (after, upto], oldest first, in pages."""
    cursor = after
    while cursor_key(cursor) < cursor_key(upto):
        page = await redis.xrange(key, min=f"({cursor}", max=upto, count=PAGE)
        if not page:
            return
        for message_id, fields in range_reply(page, bytes):
            cursor, data = decode_entry(message_id, fields)
            yield cursor, to_frame(cursor, data), is_final_state(data)


async def lost_after(
    maker: SessionFactory | None,
    last: store.Row,
    bounds: StreamBounds,
) -> bool:
    """`StreamBounds.lost_after` with the history's count before the first entry."""
    if maker is None or bounds.first is None:
        return False
    async with maker() as session:
        persisted = await store.count_before(session, last.run_id, bounds.first, GAP)
    return bounds.lost_after(last.cursor, persisted)


@dataclass
class Replayer:
    redis: Redis
    maker: async_sessionmaker[AsyncSession] | None
    key: str
    run_id: str | None

    async def frames(self, after: str, upto: str) -> AsyncIterator[Frame]:
        """Everything in (after, upto]: database part, gap if any, Redis part."""
        bounds = await stream_bounds(self.redis, self.key)
        cursor = after
        if bounds.trimmed_after(after):
            async for item in self._history(after, bounds):
                cursor = item[0]
                yield item
        if bounds.exists:
            async for item in redis_range(self.redis, self.key, cursor, upto):
                yield item

    async def _history(self, after: str, bounds: StreamBounds) -> AsyncIterator[Frame]:
        # Before the rows: a gap row written meanwhile is then read, or the
        # replay reports the gap itself.
        restarted = not await self.redis.exists(MARKER)
        rows = await self._page(after, bounds.first)
        gap_to = await self._gap_to(after, bounds, rows)
        if gap_to is not None:
            metrics.REPLAY_GAPS_TOTAL.inc()
            now = datetime.now(UTC).isoformat()
            yield after, gap_frame(self.run_id, after, gap_to, now), False
        last: store.Row | None = None
        while rows:
            for row in rows:
                yield store.row_frame(row)
            last = rows[-1]
            rows = await self._page(last.cursor, bounds.first)
        if restarted and last is not None and await self._lost_after(last, bounds):
            metrics.REPLAY_GAPS_TOTAL.inc()
            now = datetime.now(UTC).isoformat()
            to = bounds.first or "+"
            yield last.cursor, gap_frame(self.run_id, last.cursor, to, now), False

    async def _lost_after(self, last: store.Row, bounds: StreamBounds) -> bool:
        if last.name == GAP:
            return False  # the persister recorded it
        return await lost_after(self.maker, last, bounds)

    async def _page(self, after: str, before: str | None) -> list[store.Row]:
        if self.maker is None or self.run_id is None:
            return []
        async with self.maker() as session:
            return await store.rows_between(session, self.run_id, after, before, PAGE)

    async def _gap_to(
        self, after: str, bounds: StreamBounds, rows: list[store.Row]
    ) -> str | None:
        """The cursor that follows a hole after `after`, or None if none is known."""
        if not rows:
            lost = bounds.known_trim or after != "0-0"
            # "+" (Redis's "newest"): the end of the hole is unknown.
            return (bounds.first or "+") if lost else None
        if after == "0-0" or self.maker is None or self.run_id is None:
            return None
        async with self.maker() as session:
            reaches = await store.has_row_at_or_before(session, self.run_id, after)
        return None if reaches else rows[0].cursor
