"""Workers: the fleet as the database knows it, and draining."""

from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy import or_
from sqlmodel import col, select

from api_schemas import WorkerRead, WorkerState
from api_schemas.bus import worker_drain_key
from app.deps import Admin, RedisDep, SessionDep, SettingsDep, Viewer
from app.errors import NotFound
from app.models import Worker
from app.models._types import as_utc, utcnow

router = APIRouter(prefix="/api/v1/workers", tags=["workers"])
# The drain request outlives any restart of the worker under the same id.
DRAIN_TTL_S = 7 * 24 * 3600


def worker_read(worker: Worker) -> WorkerRead:
    return WorkerRead(
        id=worker.id,
        hostname=worker.hostname,
        device=worker.device,
        device_name=worker.device_name,
        state=WorkerState(worker.state),
        run_id=worker.run_id,
        last_heartbeat=as_utc(worker.last_heartbeat),
        torch_version=worker.torch_version,
        capabilities=worker.capabilities or {},
    )


@router.get("", operation_id="list_workers")
async def list_workers(
    session: SessionDep, settings: SettingsDep, _: Viewer
) -> list[WorkerRead]:
    """Every known worker with its device, state and last heartbeat; a lost
    one until `lost_worker_retention_s` after its last heartbeat."""
    since = utcnow() - timedelta(seconds=settings.lost_worker_retention_s)
    shown = or_(
        col(Worker.state) != WorkerState.lost.value,
        col(Worker.last_heartbeat) >= since,
    )
    query = select(Worker).where(shown).order_by(col(Worker.id))
    return [worker_read(w) for w in (await session.exec(query)).all()]


@router.post("/{worker_id}/drain", status_code=202, operation_id="drain_worker")
async def drain_worker(
    worker_id: str, session: SessionDep, redis: RedisDep, _: Admin
) -> WorkerRead:
    """Drain a worker: it stops claiming, finishes its run, then reports `drained`."""
    worker = await session.get(Worker, worker_id)
    if worker is None:
        raise NotFound(f"No worker {worker_id}.", code="worker_not_found")
    # The worker reads the key before each claim; the row says so meanwhile.
    await redis.set(worker_drain_key(worker_id), "1", ex=DRAIN_TTL_S)
    if worker.state == WorkerState.idle.value or worker.state == WorkerState.busy.value:
        worker.state = WorkerState.draining.value
    session.add(worker)
    return worker_read(worker)
