"""RunDep: the run a route's path names, or a 404.

Here rather than in app/deps.py, which holds what every resource shares
(settings, sessions, Redis, the caller) and imports no resource's service."""

from typing import Annotated

from fastapi import Depends

from app.deps import SessionDep
from app.models import Run
from app.runs.service import run_or_404


async def get_run(run_id: str, session: SessionDep) -> Run:
    return await run_or_404(session, run_id)


RunDep = Annotated[Run, Depends(get_run)]
