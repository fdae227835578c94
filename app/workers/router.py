"""Workers: the fleet as the database knows it, and draining."""

from fastapi import APIRouter
from sqlmodel import col, select

from api_schemas import WorkerRead, WorkerState
from app.deps import Admin, SessionDep, Viewer
from app.errors import NotFound
from app.models import Worker
from app.models._types import as_utc

router = APIRouter(prefix="/api/v1/workers", tags=["workers"])


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
async def list_workers(session: SessionDep, _: Viewer) -> list[WorkerRead]:
    """Every known worker with its device, state and last heartbeat."""
    rows = (await session.exec(select(Worker).order_by(col(Worker.id)))).all()
    return [worker_read(w) for w in rows]


@router.post("/{worker_id}/drain", status_code=202, operation_id="drain_worker")
async def drain_worker(worker_id: str, session: SessionDep, _: Admin) -> WorkerRead:
    """Mark a worker draining: it finishes its run and takes no new one."""
    worker = await session.get(Worker, worker_id)
    if worker is None:
        raise NotFound(f"No worker {worker_id}.", code="worker_not_found")
    worker.state = WorkerState.draining.value
    session.add(worker)
    return worker_read(worker)
