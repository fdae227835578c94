"""A lost worker's run is requeued: its `queued` state packet is in the run's
stream before the new assignment goes out, so no worker's `assigned` can come
first in the run's timeline (the several-hosts scenario printed a negative
wait between the two: the reaper published the packet after the send)."""

import json
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.bus import DATA_FIELD, range_reply, telemetry_stream
from app.bus.outbox import Message
from app.models import Run, Worker
from app.models._types import utcnow
from app.workers.reaper import Reaper

SPEC: dict[str, Any] = {"task": "digits", "epochs": 1, "restart_policy": "resume"}


class RecordingRelay:
    """Stands in for the outbox relay's fast path: notes, at the moment of the
    send, the states the run's stream already holds."""

    def __init__(self, redis: Redis, run_id: str) -> None:
        self.redis, self.run_id = redis, run_id
        self.seen_at_send: list[str] | None = None
        self.sent: list[Message] = []

    async def send_now(self, messages: list[Message]) -> None:
        entries = range_reply(
            await self.redis.xrange(telemetry_stream(self.run_id)), bytes
        )
        self.seen_at_send = [
            str(json.loads(fields[DATA_FIELD.encode()]).get("value"))
            for _, fields in entries
        ]
        self.sent += messages


@pytest.mark.asyncio(loop_scope="function")
async def test_the_queued_packet_precedes_the_new_assignment(
    redis_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    bus = Redis.from_url(redis_url)
    long_ago = utcnow() - timedelta(minutes=5)
    worker = Worker(id="w-gone", state="busy", registered_at=long_ago)
    run = Run(spec=SPEC, state="running", worker_id="w-gone", attempt=1)
    worker.run_id = run.id
    relay = RecordingRelay(bus, run.id)
    try:
        async with sessions() as session:
            session.add_all([worker, run])
            await session.commit()
        reaper = Reaper(sessions, bus, ttl_s=1, relay=relay)  # type: ignore[arg-type]
        assert await reaper.sweep() == ["w-gone"]  # no liveness key: lost
        assert len(relay.sent) == 1  # the new attempt's assignment
        assert relay.seen_at_send == ["queued"]
    finally:
        await bus.aclose()
