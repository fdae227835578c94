"""A second ack for a run command that already has its outcome changes
nothing: it comes from a second copy of the command (a relay that lost its
record of a send sends it again) that the worker rejects as `nonce_replayed`."""

from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import CommandState, TelemetryPacket
from api_schemas.bus import (
    DATA_FIELD,
    CommandAckEvent,
    range_reply,
    telemetry_stream,
)
from app.commands.acks import CommandWaiters
from app.models import Command
from app.wiring import EventApplier
from tests.fixtures.ledger import committed_run_and_pause


def ack(
    command: Command, state: CommandState, reason: str | None = None, **result: object
) -> CommandAckEvent:
    return CommandAckEvent(
        command_id=command.id,
        run_id=command.run_id,
        worker_id="w1",
        state=state,
        reason=reason,
        result=result,
    )


@pytest.mark.asyncio(loop_scope="function")
async def test_an_ack_after_the_outcome_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], redis_url: str
) -> None:
    bus = Redis.from_url(redis_url)
    applier = EventApplier(sessions, bus, CommandWaiters())
    try:
        run, command, _ = await committed_run_and_pause(sessions)
        first = datetime.now(UTC)
        await applier.apply(ack(command, CommandState.applied, paused_at_step=7), first)
        await applier.apply(
            ack(command, CommandState.rejected, "nonce_replayed"),
            first + timedelta(seconds=1),
        )
        async with sessions() as session:
            stored = await session.get(Command, command.id)
        assert stored is not None
        assert (stored.state, stored.reason, stored.result) == (
            CommandState.applied.value,
            None,
            {"paused_at_step": 7},
        )
        assert stored.acked_at is not None
        assert stored.acked_at.replace(tzinfo=UTC) == first
        entries = range_reply(await bus.xrange(telemetry_stream(run.id)), bytes)
        packets = [
            TelemetryPacket.model_validate_json(f[DATA_FIELD.encode()])
            for _, f in entries
        ]
        assert [p.value for p in packets] == ["applied"]  # one outcome, announced once
    finally:
        await bus.aclose()
