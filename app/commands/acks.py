"""A worker's command ack: written to the ledger, handed to a `?wait=` caller
on this gateway, and announced as the command's outcome packet."""

import asyncio
import logging
from collections import defaultdict
from datetime import datetime

from redis.asyncio import Redis

from api_schemas import CommandRead, CommandState
from api_schemas.bus import CommandAckEvent
from app import metrics
from app.bus.publish import publish
from app.commands.ledger import command_packet, command_read, observe_ack, record_ack
from app.db import SessionFactory
from app.models import Command

log = logging.getLogger("esper.commands")


class CommandWaiters:
    """In-process hand-over to `?wait=` callers: the event consumer passes the
    acked command it just committed, so a caller need not read it back."""

    def __init__(self) -> None:
        self._futures: dict[str, list[asyncio.Future[CommandRead]]] = defaultdict(list)

    def register(self, command_id: str) -> "asyncio.Future[CommandRead]":
        future: asyncio.Future[CommandRead] = asyncio.get_running_loop().create_future()
        self._futures[command_id].append(future)
        return future

    def discard(self, command_id: str, future: "asyncio.Future[CommandRead]") -> None:
        futures = self._futures.get(command_id, [])
        if future in futures:
            futures.remove(future)
        if not futures:
            self._futures.pop(command_id, None)

    def notify(self, command_id: str, command: CommandRead) -> None:
        for future in self._futures.get(command_id, []):
            if not future.done():
                future.set_result(command)


def _fenced(command: Command, event: CommandAckEvent) -> bool:
    """An ack from an earlier attempt of the command's run than the one it was
    issued to: its worker was presumed lost and came back. Refused."""
    if command.run_id is None or event.attempt >= command.attempt:
        return False
    log.warning(
        "refusing the ack of command %s from attempt %d (issued to attempt %d)",
        command.id,
        event.attempt,
        command.attempt,
    )
    metrics.EVENTS_FENCED_TOTAL.labels(event.type).inc()
    return True


class CommandAcks:
    """Applies `command_ack` events (the event consumer's hot lane)."""

    def __init__(
        self,
        maker: SessionFactory,
        redis: Redis,
        waiters: CommandWaiters,
        telemetry_maxlen: int = 100_000,
    ) -> None:
        self._maker = maker
        self._redis = redis
        self._waiters = waiters
        self._maxlen = telemetry_maxlen

    async def apply(self, event: CommandAckEvent, received_at: datetime) -> None:
        """`received_at`: when the gateway read the ack off the stream; the
        command's `acked_at` is that moment, not when its row got written."""
        async with self._maker() as session:
            command = await session.get(Command, event.command_id)
            if command is None or _fenced(command, event):
                return
            first = not CommandState(command.state).final
            if not record_ack(command, event, received_at):
                log.info(
                    "ack %s for command %s, already %s, ignored",
                    event.state.value,
                    command.id,
                    command.state,
                )
                return
            session.add(command)
            await session.commit()
            read = command_read(command)
            data = command_packet(command, read)
        self._waiters.notify(event.command_id, read)
        if first:
            observe_ack(command, event)
        await publish(
            self._redis,
            data,
            run_id=command.run_id,
            run_stream=True,
            maxlen=self._maxlen,
        )
