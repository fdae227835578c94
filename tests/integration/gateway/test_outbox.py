"""The outbox's two paths: a request puts what it committed on Redis before
it answers, and the relay loop sends what a failed fast path left behind."""

import asyncio
import time

import httpx
import pytest
import redis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import CommandState, PacketKind, TelemetryPacket
from api_schemas.bus import (
    DATA_FIELD,
    RUNS_STREAM,
    SignedCommand,
    command_stream,
    range_reply,
    telemetry_stream,
)
from api_schemas.signing import verify
from app import metrics
from app.db import SerialWrites
from app.models import Command, Run
from app.wiring import OutboxRelay
from tests.fixtures.gateway import GatewayProcess
from tests.fixtures.ledger import KEYS, SPEC, committed_run_and_pause

SessionMaker = async_sessionmaker[AsyncSession]


def entries(url: str, stream: str) -> list[dict[bytes, bytes]]:
    with redis.Redis.from_url(url) as client:
        return [fields for _, fields in range_reply(client.xrange(stream), bytes)]


def test_a_run_is_on_the_bus_when_its_201_arrives(
    gateway: GatewayProcess, module_redis_url: str
) -> None:
    # The assignment used to wait for the relay loop's 2 s grace.
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        run = client.post("/api/v1/runs", json=SPEC)
        assert run.status_code == 201, run.text
        run_id = run.json()["id"]
        assigned = [
            f
            for f in entries(module_redis_url, RUNS_STREAM)
            if run_id.encode() in f[DATA_FIELD.encode()]
        ]
        assert len(assigned) == 1
        issued = client.post(f"/api/v1/runs/{run_id}/commands", json={"type": "pause"})
        assert issued.status_code == 202, issued.text
        sent = entries(module_redis_url, command_stream(run_id))
        assert [
            SignedCommand.model_validate_json(f[DATA_FIELD.encode()]).id for f in sent
        ] == [issued.json()["id"]]


@pytest.mark.asyncio(loop_scope="function")
async def test_the_loop_sends_what_the_fast_path_left_behind(
    sessions: SessionMaker, redis_url: str
) -> None:
    bus = Redis.from_url(redis_url)
    relay = OutboxRelay(sessions, bus, grace_s=0.3)
    try:
        run, command, messages = await committed_run_and_pause(sessions)
        assert len(messages) == 2
        assert await relay.relay_once() == 0  # within the grace: the fast path's
        assert metrics.OUTBOX_BACKLOG._value.get() == 2  # yet counted as unsent
        await asyncio.sleep(0.35)
        assert await relay.relay_once() == 2
        assert metrics.OUTBOX_BACKLOG._value.get() == 0
        assert await relay.relay_once() == 0  # sent once only
        ((message_id, fields),) = range_reply(
            await bus.xrange(command_stream(run.id)), bytes
        )
        signed = SignedCommand.model_validate_json(fields[DATA_FIELD.encode()])
        verify(signed, KEYS)  # the envelope committed with the row, intact
        assert (signed.id, signed.type, signed.nonce) == (
            command.id,
            "pause",
            command.nonce,
        )
        ((assignment_id, _),) = range_reply(await bus.xrange(RUNS_STREAM), bytes)
        async with sessions() as session:
            stored = await session.get(Command, command.id)
            stored_run = await session.get(Run, run.id)
        assert stored is not None and stored_run is not None
        assert stored.state == CommandState.dispatched.value
        assert stored.dispatched_at is not None
        assert stored_run.assignment_id == assignment_id.decode()
    finally:
        await bus.aclose()


@pytest.mark.asyncio(loop_scope="function")
async def test_an_idle_tick_does_not_wait_for_the_write_turn(
    sessions: SessionMaker, redis_url: str
) -> None:
    # Five ticks a second that find nothing due: none of them may queue for
    # the turn every request's commit on SQLite waits for.
    writes = SerialWrites(sessions, serial=True)
    bus = Redis.from_url(redis_url)
    relay = OutboxRelay(writes, bus, reads=sessions)
    try:
        async with writes.turn():  # a long write elsewhere
            assert await asyncio.wait_for(relay.relay_once(), 2.0) == 0
    finally:
        await bus.aclose()


async def blocked_clients(bus: Redis) -> int:
    return int((await bus.info("clients"))["blocked_clients"])


@pytest.mark.asyncio(loop_scope="function")
async def test_a_command_is_never_readable_before_its_packets(
    sessions: SessionMaker, redis_url: str
) -> None:
    # Whoever reads the command (and later acks it) finds `pending` and
    # `dispatched` already on the run's stream, so the outcome packet cannot
    # come before them. The reader pipelines its XRANGE behind a blocked
    # XREAD: Redis runs it the moment the XREAD is served, before any other
    # client's next command, so two separate round trips would fail here.
    bus, reader = Redis.from_url(redis_url), Redis.from_url(redis_url)
    relay = OutboxRelay(sessions, bus)
    try:
        run, command, messages = await committed_run_and_pause(sessions)
        idle = await blocked_clients(bus)
        pipe = reader.pipeline(transaction=False)
        pipe.xread({command_stream(run.id): "$"}, block=10_000)
        pipe.xrange(telemetry_stream(run.id))
        read = asyncio.create_task(pipe.execute())
        while await blocked_clients(bus) == idle:
            await asyncio.sleep(0.01)
        assert await relay.send(messages) is not None
        woken, packets = await asyncio.wait_for(read, 10)
        assert woken, "the reader saw no command"
        seen = [
            TelemetryPacket.model_validate_json(f[DATA_FIELD.encode()])
            for _, f in range_reply(packets, bytes)
        ]
        assert [(p.kind, p.value, p.attrs["id"]) for p in seen] == [
            (PacketKind.command, "pending", command.id),
            (PacketKind.command, "dispatched", command.id),
        ]
    finally:
        await bus.aclose()
        await reader.aclose()


@pytest.mark.asyncio(loop_scope="function")
async def test_a_redis_that_never_answers_does_not_hold_the_request(
    sessions: SessionMaker,
) -> None:
    async def swallow(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while await reader.read(1 << 16):  # takes every command, answers none
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    mute = Redis(host="127.0.0.1", port=port)
    relay = OutboxRelay(sessions, mute, fast_timeout_s=0.3)
    try:
        _run, command, messages = await committed_run_and_pause(sessions)
        started = time.monotonic()
        assert await relay.send(messages) is None  # the loop will take them
        assert time.monotonic() - started < 1.0
        async with sessions() as session:
            stored = await session.get(Command, command.id)
        assert stored is not None and stored.state == CommandState.pending.value
    finally:
        await mute.aclose()
        server.close()
