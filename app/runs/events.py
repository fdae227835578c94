"""A run's events from its worker (state changes, progress, checkpoints):
how each changes the database, and what it tells WebSocket clients."""

import logging

from redis.asyncio import Redis
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import CommandType, Level, PacketKind, RunState, WorkerState
from api_schemas.bus import CheckpointEvent, ProgressEvent, RunStateEvent
from app import metrics
from app.bus.publish import Packet, packet_json, publish
from app.db import SessionFactory
from app.models import Checkpoint, Command, Run, Worker
from app.models._types import as_utc, utcnow
from app.runs.transitions import can_transition

log = logging.getLogger("esper.runs")


def state_packet(
    run_id: str, state: RunState, level: Level, attrs: dict[str, str | None]
) -> str:
    """The `run.state` packet of a run's transition (ends its stream if terminal)."""
    return packet_json(
        PacketKind.state,
        "run.state",
        run_id=run_id,
        value=state.value,
        level=level,
        attrs=attrs,
    )


def fail_run(run: Run, error: str) -> Packet:
    """End a live run as failed (its worker is gone); returns its state packet."""
    run.state, run.error, run.finished_at = RunState.failed.value, error, utcnow()
    return run.id, state_packet(
        run.id, RunState.failed, Level.critical, {"error": error}
    )


class RunEvents:
    def __init__(self, maker: SessionFactory, redis: Redis) -> None:
        self._maker = maker
        self._redis = redis

    async def state(self, event: RunStateEvent) -> None:
        """A transition the state machine allows; any other is ignored."""
        async with self._maker() as session:
            run = await session.get(Run, event.run_id)
            if run is None or not can_transition(RunState(run.state), event.state):
                log.info("ignoring run_state %s for %s", event.state, event.run_id)
                return
            _set_state(run, event)
            if event.state == RunState.halted:
                await _observe_halt(session, run.id)
            session.add(run)
            await _sync_worker(session, event)
            await session.commit()
        level = Level.critical if event.state == RunState.halted else Level.info
        attrs = {"error": event.error, "halt_reason": event.halt_reason}
        packet = state_packet(event.run_id, event.state, level, attrs)
        await publish(self._redis, packet, run_id=event.run_id)

    async def progress(self, event: ProgressEvent) -> None:
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

    async def checkpoint(self, event: CheckpointEvent) -> None:
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


def _set_state(run: Run, event: RunStateEvent) -> None:
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


async def _observe_halt(session: AsyncSession, run_id: str) -> None:
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


async def _sync_worker(session: AsyncSession, event: RunStateEvent) -> None:
    """The worker is busy while its run is live, idle after (unless lost)."""
    worker = await session.get(Worker, event.worker_id)
    if worker is None or worker.state == WorkerState.lost.value:
        return
    busy = event.state.live
    worker.state = WorkerState.busy.value if busy else WorkerState.idle.value
    worker.run_id = event.run_id if busy else None
    session.add(worker)


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
