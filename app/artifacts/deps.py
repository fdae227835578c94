"""ArtifactsDep: the gateway's reader of the artifact store (made once, by
create_app, so a store the gateway cannot use stops it at start)."""

from typing import Annotated

from fastapi import Depends, Request

from app.artifacts.store import ArtifactReader


async def get_reader(request: Request) -> ArtifactReader:
    reader: ArtifactReader = request.app.state.artifacts
    return reader


ArtifactsDep = Annotated[ArtifactReader, Depends(get_reader)]
