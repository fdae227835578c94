"""History of a run's telemetry over REST (the WebSocket is in `ws.py`)."""

from typing import Annotated

from fastapi import APIRouter, Query

from api_schemas import PacketKind
from api_schemas.telemetry import TelemetryPage, TelemetrySeries
from app.deps import SessionDep, Viewer
from app.errors import error_responses
from app.runs.deps import RunDep
from app.telemetry import history
from app.telemetry.ws import CursorParam, NamesParam

# A packet's step column is a 32-bit INTEGER (app/models/telemetry.py): on
# PostgreSQL a larger bound cannot bind and was a 500 (found by the fuzzer); a 422.
STEP_MAX = 2**31 - 1

router = APIRouter(prefix="/api/v1/runs", tags=["telemetry"])


@router.get(
    "/{run_id}/telemetry",
    operation_id="list_run_telemetry",
    responses=error_responses(401, 403, 404, 422),
)
async def list_run_telemetry(
    run: RunDep,
    session: SessionDep,
    _: Viewer,
    after: CursorParam = None,
    names: NamesParam = None,
    kind: PacketKind | None = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="Page size.")] = 500,
    resolution: Annotated[
        int | None,
        Query(
            ge=1,
            le=5000,
            description="Buckets per metric: returns min/max/last "
            "buckets over step ranges instead of packets.",
        ),
    ] = None,
    step_from: Annotated[
        int | None,
        Query(ge=0, le=STEP_MAX, description="Only packets at this step or later."),
    ] = None,
    step_to: Annotated[
        int | None,
        Query(ge=0, le=STEP_MAX, description="Only packets at this step or earlier."),
    ] = None,
) -> TelemetryPage | TelemetrySeries:
    """The run's persisted telemetry, oldest first, or bucketed for charts; a step
    range narrows either (a chart's zoom, an export of part of a run)."""
    steps = history.StepRange.checked(step_from, step_to)
    if resolution is not None:
        return await history.series(
            session, run.id, names=names, resolution=resolution, steps=steps
        )
    return await history.page(
        session, run.id, after=after, names=names, kind=kind, limit=limit, steps=steps
    )
