"""A run's events from its worker (state changes, progress, checkpoints):
how each changes the database, and what it tells WebSocket clients."""

import logging

from redis.asyncio import Redis
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import CommandType, Level, PacketKind, RunState, WorkerState
from api_schemas.bus import CheckpointEvent, ProgressEvent, RunStateEvent
from app import metrics
from app.bus.publish import packet_json, publish, publish_to_runs
from app.commands.ledger import command_packet, expire_commands
from app.db import SessionFactory
from app.models import Command, Run, Worker
from app.models._types import as_utc, utcnow
from app.runs.checkpoints import apply_checkpoint
from app.runs.packets import state_packet
from app.runs.requeue import WORKER_LOST, end_or_requeue, fence, may_resume
from app.runs.transitions import can_transition

log = logging.getLogger("esper.runs")


def fenced(run: Run, event: RunStateEvent | ProgressEvent | CheckpointEvent) -> bool:
    """Whether the event comes from an earlier attempt than the run's: a worker
    presumed lost that came back. Refused, and counted."""
    if event.attempt >= run.attempt:
        return False
    log.warning(
        "refusing %s for run %s from attempt %d (the run is at attempt %d)",
        event.type,
        run.id,
        event.attempt,
        run.attempt,
    )
    metrics.EVENTS_FENCED_TOTAL.labels(event.type).inc()
    return True


class RunEvents:
    def __init__(self, maker: SessionFactory, redis: Redis) -> None:
        self._maker = maker
        self._redis = redis

    async def state(self, event: RunStateEvent) -> None:
        """A transition the state machine allows; any other is ignored."""
        async with self._maker() as session:
            run = await session.get(Run, event.run_id)
            if run is None or fenced(run, event):
                return
            if _restarted_worker_lost(run, event):
                await self._requeue(session, run)
                return
            if not can_transition(RunState(run.state), event.state):
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

    async def _requeue(self, session: AsyncSession, run: Run) -> None:
        """A worker restarted (its supervisor brought it back after a crash or
        an OOM kill) and reported the run it had as lost: with `resume`, the
        run goes back to the queue as when the reaper finds a worker lost.
        The relay loop sends the new assignment."""
        packet = end_or_requeue(session, run, WORKER_LOST)
        expired = await expire_commands(
            session, select(Command).where(Command.run_id == run.id), WORKER_LOST
        )
        await session.commit()
        await fence(self._redis, run.id, run.attempt)
        packets = [(run.id, command_packet(c)) for c in expired] + [packet]
        await publish_to_runs(self._redis, packets)

    async def progress(self, event: ProgressEvent) -> None:
        async with self._maker() as session:
            run = await session.get(Run, event.run_id)
            if run is None or RunState(run.state).terminal or fenced(run, event):
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
        """The checkpoint rows follow the store (app/runs/checkpoints.py)."""
        async with self._maker() as session:
            run = await session.get(Run, event.run_id)
            if run is not None and fenced(run, event):
                return
            await apply_checkpoint(session, event)
            await session.commit()


def _restarted_worker_lost(run: Run, event: RunStateEvent) -> bool:
    """A restarted worker's report that it lost a run that may resume."""
    return (
        event.state == RunState.failed
        and event.error == WORKER_LOST
        and RunState(run.state).live
        and may_resume(run)
    )


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


# States a run's events leave as they are: the worker's own report ends them.
_WORKER_STATES_KEPT = frozenset(
    {WorkerState.lost.value, WorkerState.draining.value, WorkerState.drained.value}
)


async def _sync_worker(session: AsyncSession, event: RunStateEvent) -> None:
    """The worker is busy while its run is live, idle after (unless lost or
    draining: a drained worker says so itself)."""
    worker = await session.get(Worker, event.worker_id)
    if worker is None or worker.state == WorkerState.lost.value:
        return
    busy = event.state.live
    if worker.state not in _WORKER_STATES_KEPT:
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
