"""Worker liveness: a worker whose `esper:worker:{id}` key expired is lost.

Its live run fails with reason `worker_lost` (resume from checkpoint is the
reliability work's), the run's open commands expire with `worker_lost`, and its
assignment is acked so no other worker picks the dead run up. Each sweep also
expires the open commands nobody will ack, and refreshes the state gauges.
"""

import asyncio
import logging
from datetime import timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import RunState, WorkerState
from api_schemas.bus import RUNS_GROUP, RUNS_STREAM, worker_key
from api_schemas.enums import LIVE_RUN_STATE_VALUES
from app import metrics
from app.bus.publish import Packet, publish_to_runs
from app.commands.ledger import command_packet, expire_commands, expire_unackable
from app.db import SessionFactory
from app.models import Command, Run, Worker
from app.models._types import as_utc, utcnow
from app.runs.events import fail_run

log = logging.getLogger("esper.reaper")
WORKER_LOST = "worker_lost"


class Reaper:
    def __init__(
        self,
        maker: SessionFactory,
        redis: Redis,
        ttl_s: float,
        interval_s: float = 1.0,
        command_expire_s: float = 300.0,
        telemetry_maxlen: int = 100_000,
    ) -> None:
        self._maker = maker
        self._maxlen = telemetry_maxlen
        self._redis = redis
        self._ttl = ttl_s
        self._interval = interval_s
        self._command_expire = timedelta(seconds=command_expire_s)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except (RedisError, OSError) as exc:
                log.warning("reaper cannot reach Redis: %s", exc)
            except Exception:
                log.exception("reaper error")
            await asyncio.sleep(self._interval)

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
            packets = [p for w in lost for p in await self._lose(session, w)]
            await session.commit()
        await self._expire_unackable()
        await self._refresh_gauges()
        await publish_to_runs(self._redis, packets, self._maxlen)
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

    async def _lose(self, session: AsyncSession, worker: Worker) -> list[Packet]:
        log.warning("worker %s lost", worker.id)
        metrics.WORKERS_LOST_TOTAL.inc()
        worker.state, worker.run_id = WorkerState.lost.value, None
        session.add(worker)
        query = select(Run).where(
            Run.worker_id == worker.id, col(Run.state).in_(LIVE_RUN_STATE_VALUES)
        )
        packets: list[Packet] = []
        for run in (await session.exec(query)).all():
            packets += await self._fail_run(session, run)
        return packets

    async def _fail_run(self, session: AsyncSession, run: Run) -> list[Packet]:
        state = fail_run(run, WORKER_LOST)
        session.add(run)
        expired = await expire_commands(
            session, select(Command).where(Command.run_id == run.id), WORKER_LOST
        )
        if run.assignment_id:
            await self._redis.xack(RUNS_STREAM, RUNS_GROUP, run.assignment_id)
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
