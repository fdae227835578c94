"""A run's artifacts: the list, and a download streamed from the store with
its `ETag` (the sha256 of its manifest) and byte ranges."""

import logging
import mimetypes
from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import Response
from fastapi.responses import StreamingResponse

from api_schemas.artifacts import ArtifactManifest, ArtifactRead
from app.artifacts.ranges import byte_range
from app.artifacts.store import ArtifactReader, chunks
from app.errors import NotFound, Unavailable

T = TypeVar("T")
log = logging.getLogger("esper.artifacts")


async def in_store(call: Callable[..., T], *args: object) -> T:
    """A blocking store call, on a thread; a store that fails is a 503 (an
    S3 client raises its own errors, not only OSError).
    FileNotFoundError passes through (the caller knows what was missing)."""
    try:
        return await anyio.to_thread.run_sync(call, *args)
    except FileNotFoundError:
        raise
    except Exception as exc:  # OSError, or the client's own (botocore) errors
        log.warning("artifact store call %s failed", call.__name__, exc_info=True)
        raise Unavailable(
            f"The artifact store did not answer: {type(exc).__name__}.",
            code="artifact_store_unavailable",
        ) from exc


async def list_artifacts(reader: ArtifactReader, run_id: str) -> list[ArtifactRead]:
    return [m.public() for m in await in_store(reader.manifests, run_id)]


async def stored_names(reader: ArtifactReader, run_id: str) -> set[str]:
    return await in_store(reader.names, run_id)


def _not_found(run_id: str, name: str) -> NotFound:
    return NotFound(
        f"Run {run_id} has no artifact {name!r}.", code="artifact_not_found"
    )


async def download(
    reader: ArtifactReader,
    run_id: str,
    name: str,
    *,
    range_header: str | None,
    if_none_match: str | None,
    if_range: str | None,
) -> Response:
    """200 with the whole content, 206 with one range, 304 when the client
    holds it already; 404 unknown name, 416 a range past the end."""
    manifest = await in_store(reader.manifest, run_id, name)
    if manifest is None:
        raise _not_found(run_id, name)
    headers = _headers(manifest)
    if if_none_match and _matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    if if_range is not None and if_range.strip() != headers["ETag"]:
        range_header = None  # changed since the client's copy: send it whole
    part = byte_range(range_header, manifest.bytes)
    try:
        handle = await in_store(reader.open, manifest)
    except FileNotFoundError:
        raise _not_found(run_id, name) from None
    first, length = (part.first, part.length) if part else (0, manifest.bytes)
    headers["Content-Length"] = str(length)
    if part is not None:
        headers["Content-Range"] = part.content_range(manifest.bytes)
    return StreamingResponse(
        chunks(handle, first, length),
        status_code=206 if part else 200,
        media_type=media_type(name),
        headers=headers,
    )


def media_type(name: str) -> str:
    """The content's type from its name; a compressed file is what it is on
    the wire (`x.json.gz` is application/gzip, not JSON: the bytes are sent as
    stored, with no Content-Encoding)."""
    kind, encoding = mimetypes.guess_type(name)
    if encoding == "gzip":
        return "application/gzip"
    return kind if kind and encoding is None else "application/octet-stream"


def _headers(manifest: ArtifactManifest) -> dict[str, str]:
    return {
        "ETag": f'"{manifest.sha256}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{manifest.name}"',
    }


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags
