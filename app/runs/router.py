"""Runs: submit, list, read, cancel, and the run's seeds and checkpoints."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api_schemas import (
    CheckpointRead,
    CommandRead,
    RunCreate,
    RunPage,
    RunRead,
    RunState,
    SeedRead,
)
from api_schemas.commands import Stop
from app.artifacts.deps import ArtifactsDep
from app.commands.ledger import command_read
from app.commands.service import issue
from app.deps import Operator, SessionDep, SettingsDep, Viewer, WritesDep
from app.errors import ERRORS, error_responses
from app.idempotency import IdempotencyKey, scoped_key
from app.pagination import CursorQuery, LimitQuery
from app.runs import listing, service
from app.runs.checkpoints import list_checkpoints
from app.runs.deps import RunDep
from app.runs.listing import RunFilters, RunSort
from app.seeds import service as seeds

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])


@router.post(
    "",
    status_code=201,
    operation_id="create_run",
    responses={
        200: {"model": RunRead, "description": "Idempotent repeat: the original run."},
        **ERRORS,
    },
)
async def create_run(
    spec: RunCreate,
    response: Response,
    principal: Operator,
    writes: WritesDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> RunRead:
    """Submit a run; it starts `queued` and a worker claims it."""
    key = scoped_key(principal.key_id, idempotency_key)
    run, created = await service.create_run(
        writes.session, spec, key, settings.import_prefixes
    )
    if not created:
        response.status_code = 200
    return service.run_read(run)


@router.get("", operation_id="list_runs", responses=ERRORS)
async def list_runs(
    session: SessionDep,
    _: Viewer,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    state: RunState | None = None,
    label: Annotated[
        str | None, Query(max_length=300, description="`key=value`")
    ] = None,
    task: Annotated[
        str | None, Query(max_length=200, description="The spec's task name.")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Search: a substring of the name (any case) or an id prefix.",
        ),
    ] = None,
    sort: Annotated[
        RunSort,
        Query(description="Sort column, `-` first for descending; ties newest first."),
    ] = RunSort.created_at_desc,
) -> RunPage:
    """Runs, newest first unless sorted, filtered by state, label, task and name."""
    filters = RunFilters(state=state, label=label, task=task, search=q)
    rows, next_cursor = await listing.list_runs(
        session, filters, sort=sort, limit=limit, cursor=cursor
    )
    return RunPage(items=[service.run_read(r) for r in rows], next_cursor=next_cursor)


@router.get("/{run_id}", operation_id="get_run", responses=ERRORS)
async def get_run(_: Viewer, run: RunDep) -> RunRead:
    """One run with its latest progress and metrics."""
    return service.run_read(run)


@router.post(
    "/{run_id}/cancel", status_code=202, operation_id="cancel_run", responses=ERRORS
)
async def cancel_run(
    principal: Operator, run_id: str, settings: SettingsDep, writes: WritesDep
) -> CommandRead:
    """Stop the run cleanly at its next step boundary (a `stop` command)."""
    command, _ = await issue(
        writes.session,
        settings,
        run_id=run_id,
        body=Stop(type="stop"),
        issued_by=principal.key_id,
    )
    return command_read(command)


@router.get("/{run_id}/seeds", operation_id="list_run_seeds", responses=ERRORS)
async def list_run_seeds(_: Viewer, run: RunDep, session: SessionDep) -> list[SeedRead]:
    """Every seed the run germinated, live or ended, with its lineage."""
    return await seeds.list_seeds(session, run.id)


@router.get(
    "/{run_id}/checkpoints",
    operation_id="list_run_checkpoints",
    responses={**ERRORS, **error_responses(503)},
)
async def list_run_checkpoints(
    _: Viewer,
    run: RunDep,
    session: SessionDep,
    reader: ArtifactsDep,
) -> list[CheckpointRead]:
    """The run's checkpoints that exist in the artifact store, oldest first."""
    return await list_checkpoints(session, reader, run.id)
