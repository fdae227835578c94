"""Where the bus meets the domains, named once: the tables the outbox relay
sends from, and the domain that applies each kind of worker event.

app/bus knows envelopes only (messages, streams, packets); each domain keeps
its rules and tables in its own package; app/main.py builds what is here.
"""

from datetime import datetime
from typing import assert_never

from redis.asyncio import Redis

from api_schemas.bus import (
    BusEvent,
    CheckpointEvent,
    CommandAckEvent,
    ProgressEvent,
    RunStateEvent,
    WorkerEvent,
)
from app.bus.outbox import Relay
from app.commands.acks import CommandAcks, CommandWaiters
from app.commands.outbox import COMMAND_ENVELOPES, LEGACY_COMMAND_ROWS
from app.db import SessionFactory
from app.runs.ending import RUN_ENDINGS
from app.runs.events import RunEvents
from app.runs.outbox import RUN_ASSIGNMENTS
from app.workers.events import WorkerEvents


class OutboxRelay(Relay):
    """The relay over every domain's outbox: run assignments, commands, the
    ends of runs no worker started."""

    sources = (RUN_ASSIGNMENTS, COMMAND_ENVELOPES, LEGACY_COMMAND_ROWS, RUN_ENDINGS)


class EventApplier:
    """Each worker event from `esper:events`, applied by the domain it
    belongs to (the event consumer calls `apply` once per event)."""

    def __init__(
        self,
        maker: SessionFactory,
        redis: Redis,
        waiters: CommandWaiters,
        telemetry_maxlen: int = 100_000,
    ) -> None:
        self._acks = CommandAcks(maker, redis, waiters, telemetry_maxlen)
        self._runs = RunEvents(maker, redis)
        self._workers = WorkerEvents(maker, redis)

    async def apply(self, event: BusEvent, received_at: datetime) -> None:
        """`received_at`: when the gateway read the event off the stream."""
        match event:
            case CommandAckEvent():
                await self._acks.apply(event, received_at)
            case RunStateEvent():
                await self._runs.state(event)
            case ProgressEvent():
                await self._runs.progress(event)
            case CheckpointEvent():
                await self._runs.checkpoint(event)
            case WorkerEvent():
                await self._workers.apply(event)
            case _:
                assert_never(event)
