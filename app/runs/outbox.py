"""A run's assignment waits in the outbox table until it is on `esper:runs`,
committed with the run itself (app/bus/outbox.py relays it)."""

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.bus import RUNS_STREAM, RunAssignment
from app.bus.outbox import Message, enqueue
from app.bus.outbox_table import OutboxRows
from app.models import Outbox, Run

_OUTBOX = Outbox.__table__  # type: ignore[attr-defined]
_RUN = Run.__table__  # type: ignore[attr-defined]
_REMEMBER_ASSIGNMENT = (
    update(_RUN)
    .where(_RUN.c.id == bindparam("run"))
    .values(assignment_id=bindparam("message"))
)


class RunAssignments(OutboxRows):
    """Outbox rows on `esper:runs`. Once one is sent its run remembers the
    message id: the reaper acks a lost worker's assignment by it."""

    def __init__(self) -> None:
        super().__init__(_OUTBOX.c.stream == RUNS_STREAM)

    async def sent(
        self, connection: AsyncConnection, sent: list[Message], sent_at: datetime
    ) -> None:
        params = [
            {"run": m.row.run_id, "message": m.message_id} for m in sent if m.row.run_id
        ]
        if params:
            await connection.execute(_REMEMBER_ASSIGNMENT, params)


RUN_ASSIGNMENTS = RunAssignments()


def enqueue_assignment(session: AsyncSession, assignment: RunAssignment) -> None:
    """Write the run's assignment in this transaction, to send once it commits
    (the request sends it before it answers, not after the relay's grace)."""
    row = Outbox(
        stream=RUNS_STREAM, data=assignment.model_dump_json(), run_id=assignment.run_id
    )
    session.add(row)
    enqueue(session, RUN_ASSIGNMENTS.message(row))
