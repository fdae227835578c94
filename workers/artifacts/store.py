"""The artifact store as a worker writes and reads it (ESPER_ARTIFACT_URL,
through fsspec: a local directory, `s3://bucket/prefix`, a shared file system).

The layout and the manifest are api_schemas.artifacts'. An upload is atomic
for readers: the content first, then its manifest (with the sha256 computed
while the content streamed up, checked against the size the store reports);
an artifact exists once its manifest does. Deleting removes the manifest first.
"""

import hashlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec

from api_schemas import artifacts as layout
from api_schemas.artifacts import ArtifactKind, ArtifactManifest

CHUNK = 8 << 20  # bytes per read and write while streaming


class ArtifactError(RuntimeError):
    """An upload or download that did not verify, or an unusable artifact."""


class ArtifactStore:
    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url, **(options or {}))
        protocols = self.fs.protocol
        self.local = "file" in (
            protocols if isinstance(protocols, tuple) else (protocols,)
        )
        if self.local:
            self.fs.makedirs(self.root, exist_ok=True)

    def path(self, relative: str) -> str:
        return f"{self.root.rstrip('/')}/{relative}"

    # ---- writing --------------------------------------------------------------

    def upload(
        self,
        run_id: str,
        source: Path,
        *,
        name: str,
        kind: ArtifactKind,
        step: int | None = None,
        expected_sha256: str | None = None,
        link: bool = False,
        **extra: Any,
    ) -> ArtifactManifest:
        """Stream `source` up as the run's artifact `name`, then its manifest.
        `link`: the source is never rewritten in place (a checkpoint), so a
        local store may hard-link it instead of copying. Raises ArtifactError
        when the content differs from `expected_sha256` (the engine's own
        checksum) or the stored size from what was sent."""
        if not layout.valid_name(name):
            raise ArtifactError(f"invalid artifact name {name!r}")
        self._unpublish(run_id, name)  # an older one of this name is incomplete now
        remote = self.path(layout.content_path(run_id, name))
        linked = self._link(source, remote) if link else None
        sha256, size = linked or self._send(source, remote)
        if expected_sha256 is not None and sha256 != expected_sha256:
            raise ArtifactError(f"{source}: sha256 {sha256} != {expected_sha256}")
        stored = int(self.fs.size(remote))
        if stored != size:
            raise ArtifactError(f"{remote}: stored {stored} bytes of {size}")
        manifest = ArtifactManifest(
            run_id=run_id,
            name=name,
            kind=kind,
            bytes=size,
            sha256=sha256,
            step=step,
            created_at=datetime.now(UTC),
            **extra,
        )
        self._put_small(layout.manifest_path(run_id, name), manifest_bytes(manifest))
        return manifest

    def delete(self, run_id: str, name: str) -> None:
        """Manifest first: the artifact stops existing before its content goes."""
        self._unpublish(run_id, name)
        remote = self.path(layout.content_path(run_id, name))
        if self.fs.exists(remote):
            self.fs.rm_file(remote)

    def _unpublish(self, run_id: str, name: str) -> None:
        manifest = self.path(layout.manifest_path(run_id, name))
        if self.fs.exists(manifest):
            self.fs.rm_file(manifest)

    def _send(self, source: Path, remote: str) -> tuple[str, int]:
        """Copy up, hashing what is sent; on a local store under a temporary
        name renamed at the end (an object store's PUT is atomic itself)."""
        target = self._temporary(remote) if self.local else remote
        digest, size = hashlib.sha256(), 0
        with source.open("rb") as src, self.fs.open(target, "wb") as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        if target != remote:
            os.replace(target, remote)
        return digest.hexdigest(), size

    def _link(self, source: Path, remote: str) -> tuple[str, int] | None:
        """A local store on the worker's file system: the file is linked into
        place, not copied (nor stored twice), and hashed where it now is. None
        where it cannot be linked (another file system, an object store)."""
        if not self.local:
            return None
        target = self._temporary(remote)
        try:
            os.link(source, target)
        except OSError:
            return None
        digest, size = hashlib.sha256(), 0
        with open(target, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        os.replace(target, remote)
        return digest.hexdigest(), size

    def _put_small(self, relative: str, data: bytes) -> None:
        remote = self.path(relative)
        if not self.local:
            self.fs.pipe_file(remote, data)
            return
        target = self._temporary(remote)
        with open(target, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(target, remote)

    def _temporary(self, remote: str) -> str:
        parent, base = remote.rsplit("/", 1)
        self.fs.makedirs(parent, exist_ok=True)
        return f"{parent}/.{base}.{uuid.uuid4().hex[:8]}.tmp"

    # ---- reading ---------------------------------------------------------------

    def manifests(self, run_id: str) -> list[ArtifactManifest]:
        """The run's complete artifacts (those whose manifest exists), by name."""
        folder = self.path(layout.manifest_dir(run_id))
        found = layout.read_manifests(self.fs, layout.manifest_files(self.fs, folder))
        return sorted(found, key=lambda m: m.name)

    def manifest(self, run_id: str, name: str) -> ArtifactManifest | None:
        if not layout.valid_name(name):
            return None
        return layout.read_manifest(
            self.fs, self.path(layout.manifest_path(run_id, name))
        )

    def download(self, manifest: ArtifactManifest, dest: Path) -> None:
        """The artifact's content to `dest` (written under a temporary name
        and renamed), verified against its manifest's sha256 and size."""
        remote = self.path(layout.content_path(manifest.run_id, manifest.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
        digest, size = hashlib.sha256(), 0
        try:
            with self.fs.open(remote, "rb") as src, partial.open("wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            if (digest.hexdigest(), size) != (manifest.sha256, manifest.bytes):
                raise ArtifactError(f"{remote} does not match its manifest")
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)


def manifest_bytes(manifest: ArtifactManifest) -> bytes:
    return manifest.model_dump_json(indent=1).encode()
