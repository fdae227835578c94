"""Worker liveness: a worker whose `esper:worker:{id}` key expired is lost.

Its live run goes back to the queue to resume on another worker (policy
`resume`, restarts left: app/runs/requeue.py) or fails with reason
`worker_lost`; either way the run's open commands expire with `worker_lost`
and its old assignment is acked so no worker picks the dead attempt up. Each
sweep also expires the open commands nobody will ack, and refreshes the state
gauges.
"""

import logging
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import RunState, WorkerState
from api_schemas.bus import RUNS_GROUP, RUNS_STREAM, worker_key
from api_schemas.enums import LIVE_RUN_STATE_VALUES
from app import background, metrics
from app.bus.outbox import Relay, pending
from app.bus.publish import Packet, publish_to_runs
from app.commands.ledger import command_packet, expire_commands, expire_unackable
from app.db import SessionFactory
from app.models import Command, Run, Worker
from app.models._types import as_utc, utcnow
from app.runs.requeue import WORKER_LOST, end_or_requeue, fence

log = logging.getLogger("esper.reaper")


class Reaper:
    def __init__(
        self,
        maker: SessionFactory,
        redis: Redis,
        ttl_s: float,
        interval_s: float = 1.0,
        command_expire_s: float = 300.0,
        telemetry_maxlen: int = 100_000,
        relay: Relay | None = None,
    ) -> None:
        self._maker = maker
        self._maxlen = telemetry_maxlen
        self._redis = redis
        self._ttl = ttl_s
        self._interval = interval_s
        self._command_expire = timedelta(seconds=command_expire_s)
        # Sends a requeued run's new assignment at once (else the relay loop
        # sends it after its grace: seconds more before the run resumes).
        self._relay = relay

    async def run_forever(self) -> None:
        await background.run_forever(
            self.sweep,
            log=log,
            lost="reaper cannot reach Redis: %s",
            error="reaper error",
            every_s=self._interval,
        )

    async def sweep(self) -> list[str]:
        """One pass; returns the ids of workers found lost."""
        async with self._maker() as session:
            query = select(Worker).where(Worker.state != WorkerState.lost.value)
            workers = list((await session.exec(query)).all())
            alive = await self._alive(workers)
            lost = [
                w
                for w, ok in zip(workers, alive, strict=True)
                if not ok and self._past_grace(w)
            ]
            now = utcnow()
            for worker, ok in zip(workers, alive, strict=True):
                if ok:
                    worker.last_heartbeat = now
                    session.add(worker)
            requeued: list[Run] = []
            packets = [p for w in lost for p in await self._lose(session, w, requeued)]
            fences = [(run.id, run.attempt) for run in requeued]
            await session.commit()
            assignments = pending(session)
        for run_id, attempt in fences:  # before a worker can claim the new attempt
            await fence(self._redis, run_id, attempt)
        # The `queued` packets before the assignments: a worker waiting on the
        # runs stream claims at once, and its `assigned` must follow them.
        await publish_to_runs(self._redis, packets, self._maxlen)
        if assignments and self._relay is not None:
            await self._relay.send_now(assignments)
        await self._expire_unackable()
        await self._refresh_gauges()
        return [w.id for w in lost]

    async def _alive(self, workers: list[Worker]) -> list[bool]:
        if not workers:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for worker in workers:
            pipe.exists(worker_key(worker.id))
        return [bool(n) for n in await pipe.execute()]

    def _past_grace(self, worker: Worker) -> bool:
        # A just-registered worker may not have written its key yet. Past that,
        # a missing key is the verdict: the key's TTL already is the allowance.
        # (Counting a TTL again from the last sweep that saw the key made a
        # killed worker's detection take two TTLs: 18.9 s at the default 10 s.)
        registered = as_utc(worker.registered_at)
        grace = timedelta(seconds=self._ttl)
        return registered is None or utcnow() - registered > grace

    async def _lose(
        self, session: AsyncSession, worker: Worker, requeued: list[Run]
    ) -> list[Packet]:
        log.warning("worker %s lost", worker.id)
        metrics.WORKERS_LOST_TOTAL.inc()
        worker.state, worker.run_id = WorkerState.lost.value, None
        session.add(worker)
        query = select(Run).where(
            Run.worker_id == worker.id, col(Run.state).in_(LIVE_RUN_STATE_VALUES)
        )
        packets: list[Packet] = []
        for run in (await session.exec(query)).all():
            packets += await self._release_run(session, run, requeued)
        return packets

    async def _release_run(
        self, session: AsyncSession, run: Run, requeued: list[Run]
    ) -> list[Packet]:
        """Requeue or fail the lost worker's run; its commands expire."""
        old_assignment = run.assignment_id
        state = end_or_requeue(session, run, WORKER_LOST)
        if run.state == RunState.queued.value:
            requeued.append(run)
        session.add(run)
        expired = await expire_commands(
            session, select(Command).where(Command.run_id == run.id), WORKER_LOST
        )
        if old_assignment:
            await self._redis.xack(RUNS_STREAM, RUNS_GROUP, old_assignment)
        return [(run.id, command_packet(c)) for c in expired] + [state]

    async def _expire_unackable(self) -> None:
        async with self._maker() as session:
            packets = await expire_unackable(session, self._command_expire)
            await session.commit()
        await publish_to_runs(self._redis, packets, self._maxlen)

    async def _refresh_gauges(self) -> None:
        async with self._maker() as session:
            for model, gauge in (
                (Run, metrics.RUNS_BY_STATE),
                (Worker, metrics.WORKERS_BY_STATE),
            ):
                query = select(model.state, func.count()).group_by(model.state)
                counts = dict((await session.exec(query)).all())
                states = RunState if model is Run else WorkerState
                for state in states:
                    gauge.labels(state.value).set(counts.get(state.value, 0))
