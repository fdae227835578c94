"""Fan-out hub: one Redis reader per stream per gateway process, many clients.

Each stream entry is turned into a frame once (`to_frame` splices the cursor into
the stored JSON) and appended to every subscriber's bounded queue. Appending
never awaits, so a slow client cannot slow the reader or the other clients; a
subscriber whose queue is full is flagged `overflowed` and its connection is
closed 4408 by its own task (see `app.telemetry.ws`).
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api_schemas.bus import range_reply, read_reply
from app import background, metrics
from app.telemetry.frames import decode_entry, is_final_state, packet_name, to_frame

log = logging.getLogger("esper.hub")
READ_COUNT = 1000
BLOCK_MS = 1000
# (cursor or None for control frames, frame text, ends the run's stream)
Item = tuple[str | None, str, bool]
Matcher = Callable[[str], object]


class Subscriber:
    """One client's bounded queue; filled by the feed, drained by the client."""

    __slots__ = ("frames", "limit", "wake", "overflowed", "match")
    # `overflowed` is an Event so tests and the pump can both observe it.

    def __init__(self, limit: int, match: Matcher | None = None) -> None:
        self.frames: deque[Item] = deque()
        self.limit = limit
        self.wake = asyncio.Event()
        self.overflowed = asyncio.Event()
        self.match = match

    def offer(self, cursor: str, name: str, frame: str, final: bool) -> None:
        if self.overflowed.is_set():
            return
        if self.match is not None and not final and not self.match(name):
            return
        if len(self.frames) >= self.limit:
            # Drop the backlog now: the client resumes from its last cursor.
            metrics.PACKETS_DROPPED_TOTAL.inc(len(self.frames) + 1)
            metrics.SLOW_CLIENT_CLOSES_TOTAL.inc()
            self.frames.clear()
            self.overflowed.set()
            self.wake.set()
            return
        self.frames.append((cursor, frame, final))
        if not self.wake.is_set():
            self.wake.set()

    def control(self, frame: str) -> None:
        """A frame outside the stream (a pong); never counts against the bound."""
        self.frames.append((None, frame, False))
        self.wake.set()


class Feed:
    """The single reader of one stream in this process."""

    def __init__(
        self, redis: Redis, key: str, stop_on_final: bool, read_count: int = READ_COUNT
    ) -> None:
        self.key = key
        self.read_count = read_count
        self.last = "0-0"
        self.subscribers: set[Subscriber] = set()
        self.waiting = 0  # subscribers still waiting for `ready`
        self.ready = asyncio.Event()
        self._redis = redis
        self._stop_on_final = stop_on_final
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"feed:{self.key}")

    async def _run(self) -> None:
        # The start position is retried until Redis answers; a loop that ends
        # once it has one, so not background.run_forever.
        while not self.ready.is_set():
            try:
                newest = await self._redis.xrevrange(self.key, count=1)
            except RedisError as exc:
                log.warning("feed %s cannot reach Redis: %s", self.key, exc)
                await asyncio.sleep(0.5)
                continue
            entries = range_reply(newest, bytes)
            self.last = decode_entry(*entries[0])[0] if entries else "0-0"
            self.ready.set()
        await background.run_forever(
            self._read_once,
            log=log,
            lost=f"feed {self.key} read failed, retrying: %s",
            transient=(RedisError,),
            # Anything else ends the feed: a batch that failed half dispatched
            # would be read and sent again, forever.
            error=None,
            retry_s=0.5,
        )

    async def _read_once(self) -> None:
        reply = await self._redis.xread(
            {self.key: self.last}, count=self.read_count, block=BLOCK_MS
        )
        for _key, messages in read_reply(reply, bytes):
            self.dispatch(messages)

    def dispatch(self, messages: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Hand every entry to every subscriber; synchronous, so no subscriber
        can join half-way through a batch (see `Hub.subscribe`)."""
        subs = tuple(self.subscribers)
        names = any(sub.match is not None for sub in subs)
        cursor = self.last
        for message_id, fields in messages:
            cursor, data = decode_entry(message_id, fields)
            final = self._stop_on_final and is_final_state(data)
            frame = to_frame(cursor, data)
            name = packet_name(data) if names else ""
            for sub in subs:
                sub.offer(cursor, name, frame, final)
        self.last = cursor

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Hub:
    """Feeds by stream key; a feed lives while it has subscribers."""

    def __init__(self, redis: Redis, queue_limit: int) -> None:
        self._redis = redis
        self._limit = queue_limit
        self._feeds: dict[str, Feed] = {}

    @property
    def feeds(self) -> int:
        return len(self._feeds)

    async def subscribe(
        self, key: str, *, stop_on_final: bool, match: Matcher | None = None
    ) -> tuple[Subscriber, str]:
        """A new subscriber and the cursor its live frames start after.

        Everything after that cursor reaches the subscriber's queue, so a replay
        up to it followed by the queue is gapless and duplicate-free.
        """
        feed = self._feeds.get(key)
        if feed is None:
            # A burst never exceeds half a queue, so an idle client that keeps
            # up is never closed for one large read.
            read_count = max(1, min(READ_COUNT, self._limit // 2))
            feed = self._feeds[key] = Feed(self._redis, key, stop_on_final, read_count)
            feed.start()
            metrics.WS_FEEDS.set(len(self._feeds))
        sub = Subscriber(self._limit, match)
        feed.waiting += 1
        try:
            await feed.ready.wait()
        finally:
            feed.waiting -= 1
        # No await between joining and reading `last`: the snapshot is exact.
        feed.subscribers.add(sub)
        return sub, feed.last

    async def unsubscribe(self, key: str, sub: Subscriber | None) -> None:
        feed = self._feeds.get(key)
        if feed is None:
            return
        feed.subscribers.discard(sub)
        if not feed.subscribers and not feed.waiting:
            del self._feeds[key]
            metrics.WS_FEEDS.set(len(self._feeds))
            await feed.stop()

    async def close(self) -> None:
        feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            await feed.stop()
