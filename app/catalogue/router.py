"""Karn's blueprint catalogue and the tasks the fleet serves (without torch)."""

from fastapi import APIRouter

from api_schemas import BLUEPRINTS, TASKS, BlueprintRead, TaskRead
from api_schemas.catalogue import plugin_task
from app.deps import SessionDep, Viewer
from app.runs.registry import served

router = APIRouter(prefix="/api/v1", tags=["catalogue"])


@router.get("/blueprints", operation_id="list_blueprints")
async def list_blueprints(_: Viewer) -> list[BlueprintRead]:
    """Every blueprint a seed can be built from, with tier, risk and size."""
    return BLUEPRINTS


@router.get("/tasks", operation_id="list_tasks")
async def list_tasks(session: SessionDep, _: Viewer) -> list[TaskRead]:
    """The tasks a run may name: the built-ins, then the plug-ins registered
    workers serve (an import path is accepted only where the deployment allows)."""
    names = await served(session)
    builtin = {t.name for t in TASKS}
    return TASKS + [plugin_task(n) for n in sorted(names.tasks - builtin)]
