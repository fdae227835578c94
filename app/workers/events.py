"""A worker's own events (registration, state changes): its row, and a
`fleet.worker` packet for /ws/fleet."""

from redis.asyncio import Redis

from api_schemas import PacketKind, WorkerState
from api_schemas.bus import WorkerEvent
from app.bus.publish import packet_json, publish
from app.db import SessionFactory
from app.models import Worker
from app.models._types import utcnow

# What a worker reports about itself, copied onto its row as sent.
_REPORTED = (
    "hostname",
    "device",
    "device_name",
    "torch_version",
    "run_id",
    "capabilities",
)


# A worker asked to drain stays `draining` until it reports `drained`: an
# `idle` or `busy` it sent before it saw the request does not undo it.
_KEPT_WHILE_DRAINING = frozenset({WorkerState.idle, WorkerState.busy})


def _next_state(current: str | None, reported: WorkerState) -> WorkerState:
    if current == WorkerState.draining.value and reported in _KEPT_WHILE_DRAINING:
        return WorkerState.draining
    return reported


class WorkerEvents:
    def __init__(self, maker: SessionFactory, redis: Redis) -> None:
        self._maker = maker
        self._redis = redis

    async def apply(self, event: WorkerEvent) -> None:
        async with self._maker() as session:
            worker = await session.get(Worker, event.worker_id) or Worker(
                id=event.worker_id
            )
            for field in _REPORTED:
                setattr(worker, field, getattr(event, field))
            worker.state = _next_state(worker.state, event.state).value
            worker.last_heartbeat = utcnow()
            session.add(worker)
            await session.commit()
        packet = packet_json(
            PacketKind.event,
            "fleet.worker",
            run_id=None,
            value=event.state.value,
            attrs=event.model_dump(mode="json"),
        )
        await publish(self._redis, packet, run_id=None)
