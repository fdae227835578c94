"""The artifact store's contract (API.md, Runs: Artifact; ARCHITECTURE.md,
Artifact store): where a run's artifacts live and the manifest that marks one
complete. Workers write by it, gateways read by it; neither imports the other.

Layout, under the store's root (ESPER_ARTIFACT_URL):

    runs/{run_id}/files/{name}             the content
    runs/{run_id}/manifests/{name}.json    its manifest, written after the content

An artifact exists once its manifest does: the content is uploaded first and
the manifest (with the content's sha256) last, so a reader never lists half an
upload, and a deletion removes the manifest first. A checkpoint's artifact is
named `{checkpoint id}.pt` (`ckpt-000000050.pt`), its content the engine's
`state.pt` (a `torch.save` dict, loadable with `weights_only=True`).
"""

import logging
import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# One path segment: no slash, no leading dot, so a name never escapes its run.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
_NAME = re.compile(NAME_PATTERN)
CHECKPOINT_SUFFIX = ".pt"
MANIFEST_SUFFIX = ".json"
log = logging.getLogger("esper.artifacts")


class ArtifactKind(StrEnum):
    checkpoint = "checkpoint"
    model = "model"
    report = "report"


class ArtifactRead(BaseModel):
    """One of a run's artifacts in the store (API.md's Artifact)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "ckpt-000000200.pt",
                    "kind": "checkpoint",
                    "bytes": 1842375,
                    "sha256": "9f2c6e0b" + "0" * 56,
                    "step": 200,
                    "created_at": "2026-12-06T04:26:33Z",
                }
            ]
        }
    )

    name: str = Field(description="Its name among the run's artifacts.")
    kind: ArtifactKind = Field(description="`checkpoint`, `model` or `report`.")
    bytes: int = Field(ge=0, description="Size of the content.")
    sha256: str = Field(description="Hex sha256 of the content (the download's ETag).")
    step: int | None = Field(default=None, description="Optimizer step it is from.")
    created_at: datetime = Field(description="When it was stored (UTC).")


class ArtifactManifest(ArtifactRead):
    """`manifests/{name}.json`: written after the content, it marks the
    artifact complete. Checkpoints also carry what retention and rollback
    need (epoch, good, validation accuracy)."""

    format: Literal[1] = Field(default=1, description="Manifest format version.")
    run_id: str = Field(description="The run it belongs to.")
    epoch: int | None = Field(default=None, description="Epoch (checkpoints).")
    good: bool | None = Field(
        default=None,
        description="Checkpoints: taken while the run was healthy, and the upload "
        "verified against this sha256.",
    )
    val_accuracy: float | None = Field(
        default=None, description="Checkpoints: the latest validation accuracy."
    )

    def public(self) -> ArtifactRead:
        return ArtifactRead.model_validate(self.model_dump(include=_PUBLIC))

    @property
    def checkpoint_id(self) -> str | None:
        return (
            checkpoint_id(self.name) if self.kind is ArtifactKind.checkpoint else None
        )


_PUBLIC = set(ArtifactRead.model_fields)


def valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name)) and ".." not in name


def run_dir(run_id: str) -> str:
    return f"runs/{run_id}"


def content_path(run_id: str, name: str) -> str:
    return f"{run_dir(run_id)}/files/{name}"


def manifest_dir(run_id: str) -> str:
    return f"{run_dir(run_id)}/manifests"


def manifest_path(run_id: str, name: str) -> str:
    return f"{manifest_dir(run_id)}/{name}{MANIFEST_SUFFIX}"


def name_of_manifest(path: str) -> str | None:
    """The artifact name a manifest's file name (or path) stands for."""
    base = path.rstrip("/").rsplit("/", 1)[-1]
    if not base.endswith(MANIFEST_SUFFIX):
        return None
    name = base[: -len(MANIFEST_SUFFIX)]
    return name if valid_name(name) else None


def checkpoint_name(ckpt_id: str) -> str:
    return f"{ckpt_id}{CHECKPOINT_SUFFIX}"


def checkpoint_id(name: str) -> str:
    return name.removesuffix(CHECKPOINT_SUFFIX)


# Reading manifests, for the gateway and the workers alike. `fs` is an fsspec
# file system (duck-typed: clients of this package need not install fsspec).


def manifest_files(fs: Any, folder: str) -> list[str]:
    """The manifest files in a run's manifest folder (none if it does not
    exist yet), listed afresh: other processes write them."""
    fs.invalidate_cache(folder)
    try:
        paths = fs.ls(folder, detail=False)
    except FileNotFoundError:
        return []
    return [str(p) for p in paths if name_of_manifest(str(p))]


def read_manifests(fs: Any, paths: list[str]) -> list[ArtifactManifest]:
    """The manifests at `paths`; one deleted since it was listed is omitted,
    one that does not parse is skipped."""
    blobs = fs.cat(paths, on_error="omit") if paths else {}
    found = (parse_manifest(data, str(path)) for path, data in blobs.items())
    return [m for m in found if m is not None]


def read_manifest(fs: Any, path: str) -> ArtifactManifest | None:
    """The manifest at `path`, or None where there is none or it does not parse."""
    try:
        data = fs.cat_file(path)
    except FileNotFoundError:
        return None
    return parse_manifest(data, path)


def parse_manifest(data: bytes, where: str) -> ArtifactManifest | None:
    """A manifest, or None (logged) when it does not parse: it is skipped,
    as an artifact that never completed."""
    try:
        return ArtifactManifest.model_validate_json(data)
    except ValidationError as exc:
        log.warning("unreadable artifact manifest %s: skipped (%s)", where, exc)
        return None
