"""The emergency lane's gateway leg: `esper:emergency` to `/ws/fleet`.

Workers put packets at or above ESPER_EMERGENCY_THRESHOLD that their token
bucket admits on `esper:emergency` as well as on their run's stream
(workers/lane.py). This loop, one per gateway process and in its own task
(never behind the persister's history writes or a run's feed), XREADGROUPs
them (group `gateway`: each packet is relayed by one replica) and XADDs each
to the fleet stream, acking it in the same MULTI: a packet is relayed once, or
stays pending and is relayed again by this consumer's next read or, after
RECLAIM_IDLE_MS, by another replica.

The copy on the run's stream is the one with a cursor in the run's order:
history and `/ws/runs` replay read that one; the fleet copy carries a fleet
cursor like every other fleet frame.
"""

import logging
import socket
import time
import uuid

from redis.asyncio import Redis

from api_schemas.bus import (
    DATA_FIELD,
    EMERGENCY_GROUP,
    EMERGENCY_STREAM,
    Entries,
    read_reply,
)
from app import background, metrics
from app.bus.consumer import ensure_group
from app.bus.publish import add_packet

log = logging.getLogger("esper.emergency")
READ_COUNT = 100
BLOCK_MS = 1000
RECLAIM_IDLE_MS = 10_000  # another replica's unacked packets: taken over after


class EmergencyRelay:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.name = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"

    async def run_forever(self) -> None:
        await background.run_forever(
            self._read,
            log=log,
            lost="emergency relay lost Redis, retrying: %s",
            error="emergency relay error",
            retry_s=0.2,
        )

    async def _read(self) -> None:
        """Join the group, relay what this consumer and dead ones left pending,
        then new packets until an error."""
        await ensure_group(self._redis, EMERGENCY_STREAM, EMERGENCY_GROUP)
        await self.relay_once("0", block_ms=None)  # ours, read but not acked
        await self._reclaim_stale()
        while True:
            await self.relay_once(">", block_ms=BLOCK_MS)

    async def relay_once(self, start: str, block_ms: int | None) -> int:
        reply = await self._redis.xreadgroup(
            EMERGENCY_GROUP,
            self.name,
            {EMERGENCY_STREAM: start},
            count=READ_COUNT,
            block=block_ms,
        )
        relayed = 0
        for _stream, messages in read_reply(reply, bytes):
            relayed += await self._relay(messages)
        if relayed:
            await self._measure_backlog()
        else:
            metrics.EMERGENCY_BACKLOG.set(0)
        return relayed

    async def _reclaim_stale(self) -> None:
        start: bytes | str = "0-0"
        while True:
            start, messages, *_ = await self._redis.xautoclaim(
                EMERGENCY_STREAM,
                EMERGENCY_GROUP,
                self.name,
                min_idle_time=RECLAIM_IDLE_MS,
                start_id=start,
                count=READ_COUNT,
            )
            await self._relay(messages)
            if start in (b"0-0", "0-0") or not messages:
                return

    async def _relay(self, messages: Entries[bytes]) -> int:
        if not messages:
            return 0
        pipe = self._redis.pipeline(transaction=True)
        now, relayed = time.time(), 0
        for message_id, fields in messages:
            data = fields.get(DATA_FIELD.encode()) if fields else None
            if data is None:  # trimmed while pending, or not a packet
                metrics.EMERGENCY_MALFORMED_TOTAL.inc()
                continue
            add_packet(pipe, data.decode(), run_id=None)
            ms = int(message_id.split(b"-")[0])
            metrics.EMERGENCY_RELAY_SECONDS.observe(max(0.0, now - ms / 1000))
            relayed += 1
        pipe.xack(EMERGENCY_STREAM, EMERGENCY_GROUP, *(m for m, _ in messages))
        await pipe.execute()
        metrics.EMERGENCY_RELAYED_TOTAL.inc(relayed)
        return relayed

    async def _measure_backlog(self) -> None:
        """Packets on the lane no gateway has read yet (Redis >= 7: `lag`)."""
        for group in await self._redis.xinfo_groups(EMERGENCY_STREAM):
            name = group.get("name")
            if name in (EMERGENCY_GROUP, EMERGENCY_GROUP.encode()):
                lag = group.get("lag")
                if lag is not None:
                    metrics.EMERGENCY_BACKLOG.set(int(lag))
