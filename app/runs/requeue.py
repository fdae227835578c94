"""A run whose worker is lost: back to the queue to resume, or failed.

With `restart_policy: resume` and restarts left, the run goes back to `queued`
with `attempt` + 1, and a new assignment (committed with it, in the outbox)
tells the next worker to resume it from its latest good checkpoint in the
artifact store. The attempt is also written to the run's fence key in Redis,
which a worker of an earlier attempt watches: one presumed lost that comes
back stops its copy of the run (and the gateway refuses its events anyway).
"""

from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import Level, RestartPolicy, RunCreate, RunState
from api_schemas.bus import ResumePoint, RunAssignment, run_fence_key
from app import metrics
from app.bus.publish import Packet
from app.models import Run
from app.models._types import utcnow
from app.runs.outbox import enqueue_assignment
from app.runs.packets import state_packet

# A fence key outlives any partition a worker could come back from.
FENCE_TTL_S = 7 * 24 * 3600
WORKER_LOST = "worker_lost"


def may_resume(run: Run) -> bool:
    """The run's policy is `resume` and it has restarts left."""
    spec = RunCreate.model_validate(run.spec)
    return (
        spec.restart_policy is RestartPolicy.resume and run.restarts < spec.max_restarts
    )


def end_or_requeue(session: AsyncSession, run: Run, reason: str) -> Packet:
    """The run's worker is gone: requeue it if its policy allows, else fail it.
    Returns its state packet; `fence` must follow the commit of a requeue."""
    if not may_resume(run):
        return fail_run(run, reason)
    lost_at = run.step
    run.attempt += 1
    run.restarts += 1
    run.state, run.worker_id, run.assignment_id = RunState.queued.value, None, None
    session.add(run)
    assignment = RunAssignment(
        run_id=run.id,
        spec=RunCreate.model_validate(run.spec),
        attempt=run.attempt,
        resume=ResumePoint(run_id=run.id),
        lost_at_step=lost_at,
    )
    enqueue_assignment(session, assignment)
    metrics.RUNS_REQUEUED_TOTAL.inc()
    attrs: dict[str, str | None] = {
        "reason": reason,
        "attempt": str(run.attempt),
        "lost_at_step": str(lost_at),
    }
    return run.id, state_packet(run.id, RunState.queued, Level.warning, attrs)


def fail_run(run: Run, error: str) -> Packet:
    """End a live run as failed (its worker is gone); returns its state packet."""
    run.state, run.error, run.finished_at = RunState.failed.value, error, utcnow()
    return run.id, state_packet(
        run.id, RunState.failed, Level.critical, {"error": error}
    )


async def fence(redis: Redis, run_id: str, attempt: int) -> None:
    """Tell an earlier attempt's worker, should it come back, that it is stale."""
    await redis.set(run_fence_key(run_id), attempt, ex=FENCE_TTL_S)
