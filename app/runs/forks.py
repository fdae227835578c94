"""A run that starts from another run's checkpoint (`resume_from` in its
spec): continue a finished run with more epochs, or fork one with another
learning rate. The checkpoint must exist in the artifact store (its row does)
and the host must be the same task and model, or the weights cannot load."""

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import RunCreate
from api_schemas.bus import ResumePoint
from app.errors import Unprocessable
from app.models import Checkpoint, Run


async def starting_point(session: AsyncSession, spec: RunCreate) -> ResumePoint | None:
    """Where the new run starts (None: from scratch); 422 if it cannot."""
    source = spec.resume_from
    if source is None:
        return None
    run = await session.get(Run, source.run_id)
    if run is None:
        raise Unprocessable(
            f"resume_from: no run with id {source.run_id}.", code="unknown_run"
        )
    theirs = RunCreate.model_validate(run.spec)
    if (theirs.task, theirs.model) != (spec.task, spec.model):
        raise Unprocessable(
            f"resume_from: run {run.id} trained task {theirs.task!r} with model "
            f"{theirs.model.model_dump()}; this spec must name the same task and "
            "model to load its weights.",
            code="resume_mismatch",
        )
    checkpoint = await _checkpoint(session, run.id, source.checkpoint_id)
    return ResumePoint(run_id=run.id, checkpoint_id=checkpoint.id, fork=True)


async def _checkpoint(
    session: AsyncSession, run_id: str, checkpoint_id: str | None
) -> Checkpoint:
    """The named checkpoint of the run, or its newest good one."""
    query = select(Checkpoint).where(Checkpoint.run_id == run_id)
    if checkpoint_id is not None:
        query = query.where(Checkpoint.id == checkpoint_id)
    else:
        query = query.where(col(Checkpoint.good)).order_by(col(Checkpoint.step).desc())
    found = (await session.exec(query.limit(1))).first()
    if found is None:
        which = checkpoint_id or "good checkpoint"
        raise Unprocessable(
            f"resume_from: run {run_id} has no {which} in the artifact store.",
            code="unknown_checkpoint",
        )
    return found
