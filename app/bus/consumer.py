"""Applies worker events from `esper:events` (group `gateway`) to the database.

Each event is applied in its own transaction and acked after commit, so an event
is never lost if the gateway dies mid-way (it stays pending and is reclaimed).

Two lanes, each in stream order: command acks, run states and worker events
are applied by the reading loop itself; checkpoint rows and progress snapshots
(bulk, and nothing a client reads after an ack depends on them) by a lane of
their own. A run with short epochs sends tens of checkpoint events a second,
and an ack queued behind them waited milliseconds to be read.
"""

import asyncio
import logging
import socket
import time
import uuid
from datetime import datetime
from typing import Protocol

from pydantic import TypeAdapter, ValidationError
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from api_schemas.bus import (
    DATA_FIELD,
    EVENTS_GROUP,
    EVENTS_STREAM,
    BusEvent,
    read_reply,
)
from app import background, metrics
from app.db import SessionFactory
from app.models._types import utcnow

log = logging.getLogger("esper.consumer")
_events: TypeAdapter[BusEvent] = TypeAdapter(BusEvent)
BULK_EVENTS = frozenset({"checkpoint", "progress"})
BULK_BACKLOG = 1000  # queued bulk events before the reading loop waits


class Applier(Protocol):
    """What the consumer hands each event to (app/wiring.py's EventApplier:
    the domain it belongs to). `received_at`: when it was read off the stream."""

    async def apply(self, event: BusEvent, received_at: datetime) -> None: ...


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class EventConsumer:
    def __init__(
        self,
        maker: SessionFactory,
        redis: Redis,
        applier: Applier,
    ) -> None:
        self._maker = maker
        self._redis = redis
        self._applier = applier
        self.name = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self._bulk: asyncio.Queue[tuple[BusEvent, bytes, datetime]] = asyncio.Queue(
            BULK_BACKLOG
        )

    async def run_forever(self) -> None:
        bulk_lane = asyncio.create_task(self._bulk_lane())
        try:
            await background.run_forever(
                self._read,
                log=log,
                lost="event consumer lost Redis, retrying: %s",
                error="event consumer error",
                retry_s=0.5,
            )
        finally:
            bulk_lane.cancel()

    async def _read(self) -> None:
        """Join the group, take over what a dead gateway left, then read until
        an error (after one, the group may be gone: Redis restarted empty)."""
        await ensure_group(self._redis, EVENTS_STREAM, EVENTS_GROUP)
        await self._reclaim_stale()
        while True:
            await self._read_batch(">", block_ms=1000)

    async def _reclaim_stale(self) -> None:
        # Events a dead gateway read but never acked: take them over.
        start = "0-0"
        while True:
            start, messages, *_ = await self._redis.xautoclaim(
                EVENTS_STREAM,
                EVENTS_GROUP,
                self.name,
                min_idle_time=30_000,
                start_id=start,
                count=100,
            )
            await self._handle(messages, utcnow())
            if start in (b"0-0", "0-0") or not messages:
                return

    async def _read_batch(self, start: str, block_ms: int | None) -> None:
        reply = await self._redis.xreadgroup(
            EVENTS_GROUP, self.name, {EVENTS_STREAM: start}, count=200, block=block_ms
        )
        received = utcnow()
        for _stream, messages in read_reply(reply, bytes):
            await self._handle(messages, received)

    async def _handle(
        self, messages: list[tuple[bytes, dict[bytes, bytes]]], received: datetime
    ) -> None:
        for message_id, fields in messages:
            event = _parse(fields, message_id)
            if event is not None and event.type in BULK_EVENTS:
                await self._bulk.put((event, message_id, received))
                continue  # acked by the bulk lane once applied
            if event is not None:
                await self._apply(event, message_id, received)
            await self._redis.xack(EVENTS_STREAM, EVENTS_GROUP, message_id)

    async def _bulk_lane(self) -> None:
        # Not background.run_forever: a failure here is one event's (logged
        # with its id, left pending for the reclaim), not the lane's, so the
        # lane goes straight on to the next event, with no pause.
        while True:
            event, message_id, received = await self._bulk.get()
            try:
                await self._apply(event, message_id, received)
                await self._redis.xack(EVENTS_STREAM, EVENTS_GROUP, message_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # left pending: reclaimed when the consumer restarts
                log.exception("event consumer error on %s", message_id)

    async def _apply(
        self, event: BusEvent, message_id: bytes, received: datetime
    ) -> None:
        ms = int(message_id.split(b"-")[0])
        metrics.EVENT_CONSUMER_LAG.set(max(0.0, time.time() - ms / 1000))
        await self._applier.apply(event, received)


def _parse(fields: dict[bytes, bytes] | None, message_id: bytes) -> BusEvent | None:
    """The event in a stream entry; None (logged) when there is none to apply."""
    raw = fields.get(DATA_FIELD.encode()) if fields else None
    if raw is None:
        return None
    try:
        return _events.validate_json(raw)
    except ValidationError as exc:
        log.warning("dropping malformed event %s: %s", message_id, exc)
        return None
