"""The event consumer's two lanes, over a real Redis: a command ack is applied
while a checkpoint event ahead of it in the stream is still being applied, and
each lane keeps its own events in stream order. (The applier is a recorder:
what it writes to the database is tested elsewhere.)"""

import asyncio
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import CommandState
from api_schemas.bus import (
    DATA_FIELD,
    EVENTS_GROUP,
    EVENTS_STREAM,
    BusEvent,
    CheckpointEvent,
    CommandAckEvent,
)
from app.bus.consumer import EventConsumer


class GatedApplier:
    """Records what it applies; checkpoint events wait for `release`."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.release = asyncio.Event()

    async def apply(self, event: BusEvent, received_at: datetime) -> None:
        if isinstance(event, CheckpointEvent):
            await self.release.wait()
            self.applied.append(event.checkpoint_id)
        elif isinstance(event, CommandAckEvent):
            self.applied.append(event.command_id)


def no_database() -> AbstractAsyncContextManager[AsyncSession]:
    raise AssertionError("the consumer under test applies through GatedApplier only")


def checkpoint(n: int) -> CheckpointEvent:
    return CheckpointEvent(
        run_id="r1",
        worker_id="w1",
        checkpoint_id=f"ckpt-{n}",
        path="/tmp/x",
        step=n,
        epoch=n,
    )


def ack(n: int) -> CommandAckEvent:
    return CommandAckEvent(
        command_id=f"cmd-{n}", run_id="r1", worker_id="w1", state=CommandState.applied
    )


async def until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_an_ack_does_not_wait_behind_checkpoint_events(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    applier = GatedApplier()
    consumer = EventConsumer(no_database, redis, applier)
    task = asyncio.create_task(consumer.run_forever())
    try:
        for event in (checkpoint(1), checkpoint(2), ack(1), ack(2)):
            await redis.xadd(EVENTS_STREAM, {DATA_FIELD: event.model_dump_json()})
        await until(lambda: applier.applied == ["cmd-1", "cmd-2"])
        pending = await redis.xpending(EVENTS_STREAM, EVENTS_GROUP)
        assert pending["pending"] == 2  # the checkpoints: not acked until applied
        applier.release.set()
        await until(lambda: len(applier.applied) == 4)
        assert applier.applied[2:] == ["ckpt-1", "ckpt-2"]  # in stream order
        assert await _pending(redis) == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await redis.aclose()


async def _pending(redis: Redis) -> int:
    """Pending entries once the bulk lane has had time to ack (up to 1 s)."""
    for _ in range(100):
        count = (await redis.xpending(EVENTS_STREAM, EVENTS_GROUP))["pending"]
        if count == 0:
            return 0
        await asyncio.sleep(0.01)
    return int(count)
