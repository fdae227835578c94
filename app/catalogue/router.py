"""Karn's blueprint catalogue and the built-in tasks (served without torch)."""

from fastapi import APIRouter

from api_schemas import BLUEPRINTS, TASKS, BlueprintRead, TaskRead
from app.deps import Viewer

router = APIRouter(prefix="/api/v1", tags=["catalogue"])


@router.get("/blueprints", operation_id="list_blueprints")
async def list_blueprints(_: Viewer) -> list[BlueprintRead]:
    """Every blueprint a seed can be built from, with tier, risk and size."""
    return BLUEPRINTS


@router.get("/tasks", operation_id="list_tasks")
async def list_tasks(_: Viewer) -> list[TaskRead]:
    """The built-in tasks; a user task is given as `package.module:factory`."""
    return TASKS
