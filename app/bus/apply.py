"""How each worker event changes the database, and what it tells WebSocket clients."""

import asyncio
import logging
from collections import defaultdict
from datetime import datetime

from redis.asyncio import Redis
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from api_schemas import (
    CommandRead,
    CommandState,
    CommandType,
    Level,
    PacketKind,
    RunState,
    WorkerState,
)
from api_schemas.bus import (
    BusEvent,
    CheckpointEvent,
    CommandAckEvent,
    ProgressEvent,
    RunStateEvent,
    WorkerEvent,
)
from app import metrics
from app.bus.publish import packet_json, publish
from app.commands.reads import command_read
from app.db import SessionFactory
from app.models import Checkpoint, Command, Run, Worker
from app.models._types import as_utc, utcnow
from app.runs.transitions import can_transition

log = logging.getLogger("esper.apply")
RUN_ENDED = "run_ended"


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


class EventApplier:
    def __init__(
        self,
        maker: SessionFactory,
        redis: Redis,
        waiters: CommandWaiters,
        telemetry_maxlen: int = 100_000,
    ) -> None:
        self._maker = maker
        self._redis = redis
        self.waiters = waiters
        self._maxlen = telemetry_maxlen

    async def apply(self, event: BusEvent, received_at: datetime) -> None:
        """`received_at`: when the gateway read the event off the stream; an
        ack's `acked_at` is that moment, not when its row got written."""
        if isinstance(event, CommandAckEvent):
            await self._command_ack(event, received_at)
            return
        handler = {
            "run_state": self._run_state,
            "progress": self._progress,
            "worker": self._worker,
            "checkpoint": self._checkpoint,
        }[event.type]
        await handler(event)  # type: ignore[operator]

    async def _worker(self, event: WorkerEvent) -> None:
        async with self._maker() as session:
            worker = await session.get(Worker, event.worker_id) or Worker(
                id=event.worker_id
            )
            for field in (
                "hostname",
                "device",
                "device_name",
                "torch_version",
                "run_id",
                "capabilities",
            ):
                setattr(worker, field, getattr(event, field))
            worker.state = event.state.value
            worker.last_heartbeat = utcnow()
            session.add(worker)
            await session.commit()
        await publish(
            self._redis,
            packet_json(
                PacketKind.event,
                "fleet.worker",
                run_id=None,
                value=event.state.value,
                attrs=event.model_dump(mode="json"),
            ),
            run_id=None,
        )

    async def _run_state(self, event: RunStateEvent) -> None:
        async with self._maker() as session:
            run = await session.get(Run, event.run_id)
            if run is None or not can_transition(RunState(run.state), event.state):
                log.info("ignoring run_state %s for %s", event.state, event.run_id)
                return
            self._set_run_state(run, event)
            if event.state == RunState.halted:
                await self._observe_halt(session, run.id)
            session.add(run)
            await self._sync_worker(session, event)
            await session.commit()
        level = Level.critical if event.state == RunState.halted else Level.info
        await publish(
            self._redis,
            packet_json(
                PacketKind.state,
                "run.state",
                run_id=event.run_id,
                value=event.state.value,
                level=level,
                attrs={"error": event.error, "halt_reason": event.halt_reason},
            ),
            run_id=event.run_id,
        )

    def _set_run_state(self, run: Run, event: RunStateEvent) -> None:
        now = utcnow()
        run.state = event.state.value
        run.worker_id = event.worker_id
        if event.state == RunState.running and run.started_at is None:
            run.started_at = now
        if event.state.terminal:
            run.finished_at = now
            run.error = event.error
            run.halt_reason = event.halt_reason
            run.result = {**(run.result or {}), **event.result}

    async def _observe_halt(self, session: AsyncSession, run_id: str) -> None:
        """Halt latency: the run's first emergency_halt issued -> run halted."""
        query = (
            select(Command.issued_at)
            .where(
                Command.run_id == run_id,
                Command.type == CommandType.emergency_halt.value,
            )
            .order_by(col(Command.issued_at))
            .limit(1)
        )
        issued = as_utc((await session.exec(query)).first())
        if issued is not None:
            seconds = (utcnow() - issued).total_seconds()
            metrics.HALT_SECONDS.observe(max(0.0, seconds))

    async def _sync_worker(self, session: AsyncSession, event: RunStateEvent) -> None:
        worker = await session.get(Worker, event.worker_id)
        if worker is None or worker.state == WorkerState.lost.value:
            return
        busy = event.state.live
        worker.state = WorkerState.busy.value if busy else WorkerState.idle.value
        worker.run_id = event.run_id if busy else None
        session.add(worker)

    async def _progress(self, event: ProgressEvent) -> None:
        async with self._maker() as session:
            run = await session.get(Run, event.run_id)
            if run is None or RunState(run.state).terminal:
                return
            run.epoch, run.step = event.epoch, max(run.step, event.step)
            run.metrics = event.metrics.model_dump(mode="json")
            run.seeds = dict(event.seeds)
            if event.seed_list:
                run.seed_list = list(event.seed_list)
            session.add(run)
            await session.commit()
        await publish(self._redis, progress_packet(event), run_id=event.run_id)

    async def _command_ack(self, event: CommandAckEvent, received_at: datetime) -> None:
        async with self._maker() as session:
            command = await session.get(Command, event.command_id)
            if command is None:
                return
            first = not CommandState(command.state).final
            if not record_ack(command, event, received_at):
                log.info("ack %s for command %s, already %s, ignored",
                         event.state.value, command.id, command.state)
                return
            session.add(command)
            await session.commit()
            read = command_read(command)
            data = command_packet(command, read)
        self.waiters.notify(event.command_id, read)
        if first:
            observe_ack(command, event)
        await publish(
            self._redis,
            data,
            run_id=command.run_id,
            run_stream=True,
            maxlen=self._maxlen,
        )

    async def _checkpoint(self, event: CheckpointEvent) -> None:
        async with self._maker() as session:
            if await session.get(Checkpoint, event.checkpoint_id) is None:
                session.add(
                    Checkpoint(
                        id=event.checkpoint_id,
                        run_id=event.run_id,
                        path=event.path,
                        step=event.step,
                        epoch=event.epoch,
                        bytes=event.bytes,
                        good=event.good,
                    )
                )
                await session.commit()


def record_ack(command: Command, event: CommandAckEvent,
               received_at: datetime) -> bool:
    """Record a worker's ack; returns whether the ledger changed.

    Broadcast commands collect one ack per worker; the first settles the
    state. A run command's ack after its outcome changes nothing: it is a
    second copy of the command (a relay that lost its record of a send sends
    it again, and the worker rejects the copy as `nonce_replayed`)."""
    settled = CommandState(command.state).final and not _expired_by_gateway(command)
    if command.run_id is None:
        acks = dict((command.result or {}).get("acks", {}))
        acks[event.worker_id] = {"state": event.state.value, "reason": event.reason}
        command.result = {**(command.result or {}), "acks": acks}
    elif settled:
        return False
    else:
        command.result = {**(command.result or {}), **event.result}
    if not settled:
        command.state = event.state.value
        command.reason = event.reason
        command.acked_at = received_at
    return True


def _expired_by_gateway(command: Command) -> bool:
    """The run ended before its worker's ack arrived: the ack is the truth."""
    return command.state == CommandState.expired.value and command.reason == RUN_ENDED


def observe_ack(command: Command, event: CommandAckEvent) -> None:
    metrics.COMMANDS_TOTAL.labels(command.type, event.state.value).inc()
    if event.state == CommandState.rejected and event.reason:
        metrics.COMMAND_REJECTIONS_TOTAL.labels(event.reason).inc()
    issued = as_utc(command.issued_at)
    if issued is not None and command.acked_at is not None:
        seconds = (as_utc(command.acked_at) - issued).total_seconds()  # type: ignore[operator]
        metrics.COMMAND_ACK_SECONDS.labels(command.type).observe(max(0.0, seconds))


def progress_packet(event: ProgressEvent) -> str:
    """A throttled progress line for /ws/fleet (one per progress event, ~2/s/run),
    so fleet views need not poll every run."""
    return packet_json(
        PacketKind.metric,
        "tolaria.training.loss",
        run_id=event.run_id,
        value=event.metrics.loss,
        step=event.step,
        epoch=event.epoch,
        attrs={
            "metrics": event.metrics.model_dump(mode="json"),
            "seeds": event.seeds,
            "progress": True,
        },
    )


_WARN_STATES = (CommandState.rejected.value, CommandState.expired.value)


def command_packet(command: Command, read: CommandRead | None = None) -> str:
    """The `command` packet of one ledger transition (`read`: the state to
    announce, when it is not the row's own)."""
    read = read or command_read(command)
    state = read.state.value
    level = Level.warning if state in _WARN_STATES else Level.info
    return packet_json(
        PacketKind.command,
        f"command.{command.type}",
        run_id=command.run_id,
        value=state,
        level=level,
        attrs=read.model_dump(mode="json"),
    )


OPEN_COMMAND_STATES = [CommandState.pending.value, CommandState.dispatched.value]


async def expire_commands(session: AsyncSession, query: SelectOfScalar[Command],
                          reason: str) -> list[Command]:
    """Expire, with `reason`, the open commands among those `query` selects."""
    open_only = query.where(col(Command.state).in_(OPEN_COMMAND_STATES))
    expired = list((await session.exec(open_only)).all())
    for command in expired:
        command.state = CommandState.expired.value
        command.reason = reason
        command.acked_at = utcnow()
        session.add(command)
    return expired
