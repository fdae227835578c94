"""A run's checkpoints: rows that follow the artifact store.

A worker reports a checkpoint (`CheckpointEvent`) once it is complete in the
store, with the ids retention deleted there before it; the row goes in and
theirs go out in one transaction. The list a client reads is the rows whose
manifest the store still has, so it never shows a checkpoint that is gone
(rows from before the store, a deletion whose event was lost).
"""

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import CheckpointRead
from api_schemas.artifacts import checkpoint_name
from api_schemas.bus import CheckpointEvent
from app.artifacts.service import stored_names
from app.artifacts.store import ArtifactReader
from app.models import Checkpoint
from app.models._types import as_utc, utcnow


async def apply_checkpoint(session: AsyncSession, event: CheckpointEvent) -> None:
    """Insert (or refresh) the reported checkpoint, delete the pruned ones."""
    key = {"run_id": event.run_id, "id": event.checkpoint_id}
    row = await session.get(Checkpoint, key) or Checkpoint(
        run_id=event.run_id, id=event.checkpoint_id, path=event.path
    )
    row.path, row.step, row.epoch = event.path, event.step, event.epoch
    row.bytes, row.good, row.sha256 = event.bytes, event.good, event.sha256
    row.val_accuracy, row.created_at = event.val_accuracy, utcnow()
    session.add(row)
    pruned = [p for p in event.pruned if p != event.checkpoint_id]
    if pruned:
        await session.exec(
            delete(Checkpoint).where(
                col(Checkpoint.run_id) == event.run_id, col(Checkpoint.id).in_(pruned)
            )
        )


async def list_checkpoints(
    session: AsyncSession, reader: ArtifactReader, run_id: str
) -> list[CheckpointRead]:
    """The run's checkpoints that exist in the store, oldest first."""
    query = (
        select(Checkpoint)
        .where(Checkpoint.run_id == run_id)
        .order_by(col(Checkpoint.step), col(Checkpoint.id))
    )
    rows = (await session.exec(query)).all()
    stored = await stored_names(reader, run_id) if rows else set()
    return [_read(row) for row in rows if checkpoint_name(row.id) in stored]


def _read(row: Checkpoint) -> CheckpointRead:
    return CheckpointRead(
        id=row.id,
        step=row.step,
        epoch=row.epoch,
        bytes=row.bytes,
        good=row.good,
        created_at=as_utc(row.created_at),
        artifact=checkpoint_name(row.id),
        sha256=row.sha256,
        val_accuracy=row.val_accuracy,
    )
