"""A run's artifacts (API.md, Runs): list them, download one."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from api_schemas.artifacts import ArtifactRead
from app.artifacts import service
from app.artifacts.deps import ArtifactsDep
from app.deps import Viewer
from app.errors import ERRORS, error_responses
from app.runs.deps import RunDep

router = APIRouter(prefix="/api/v1/runs", tags=["artifacts"])

_BYTES: dict[str, Any] = {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
}
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": _BYTES, "description": "The whole content."},
    206: {"content": _BYTES, "description": "The requested byte range."},
    304: {"description": "`If-None-Match` matched: the client has it."},
    **ERRORS,
    **error_responses(416, 503),
}


@router.get(
    "/{run_id}/artifacts",
    operation_id="list_run_artifacts",
    responses={**ERRORS, **error_responses(503)},
)
async def list_run_artifacts(
    _: Viewer, run: RunDep, reader: ArtifactsDep
) -> list[ArtifactRead]:
    """The run's artifacts in the store (checkpoints, model, reports), oldest first."""
    return await service.list_artifacts(reader, run.id)


@router.get(
    "/{run_id}/artifacts/{name}",
    operation_id="download_run_artifact",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
)
async def download_run_artifact(
    _: Viewer,
    run: RunDep,
    reader: ArtifactsDep,
    name: Annotated[str, PathParam(max_length=300, description="Artifact name.")],
    range: Annotated[str | None, Header(max_length=200)] = None,
    if_none_match: Annotated[str | None, Header(max_length=2000)] = None,
    if_range: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """An artifact's bytes from the store; `ETag` is its sha256; `Range` honoured."""
    return await service.download(
        reader,
        run.id,
        name,
        range_header=range,
        if_none_match=if_none_match,
        if_range=if_range,
    )
