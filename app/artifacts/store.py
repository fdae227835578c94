"""The artifact store as the gateway reads it (ESPER_ARTIFACT_URL, through
fsspec), by api_schemas.artifacts' layout: a run's artifacts are those whose
manifest exists (workers write the content first, the manifest last).

The calls block (file or network I/O): the routes run them on a thread.
"""

from collections.abc import Iterator
from typing import Any

import fsspec

from api_schemas import artifacts as layout
from api_schemas.artifacts import ArtifactManifest

CHUNK = 1 << 20  # bytes per read while streaming a download


class ArtifactReader:
    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url, **(options or {}))

    def path(self, relative: str) -> str:
        return f"{self.root.rstrip('/')}/{relative}"

    def _manifest_paths(self, run_id: str) -> list[str]:
        return layout.manifest_files(self.fs, self.path(layout.manifest_dir(run_id)))

    def names(self, run_id: str) -> set[str]:
        """Names of the run's complete artifacts: one listing, nothing read."""
        found = (layout.name_of_manifest(p) for p in self._manifest_paths(run_id))
        return {name for name in found if name}

    def manifests(self, run_id: str) -> list[ArtifactManifest]:
        """The run's complete artifacts, oldest first."""
        found = layout.read_manifests(self.fs, self._manifest_paths(run_id))
        return sorted(
            (m for m in found if m.run_id == run_id),
            key=lambda m: (m.created_at, m.name),
        )

    def manifest(self, run_id: str, name: str) -> ArtifactManifest | None:
        if not layout.valid_name(name):
            return None
        found = layout.read_manifest(
            self.fs, self.path(layout.manifest_path(run_id, name))
        )
        return found if found is not None and found.run_id == run_id else None

    def open(self, manifest: ArtifactManifest) -> Any:
        """The content, opened for reading (FileNotFoundError if gone)."""
        path = self.path(layout.content_path(manifest.run_id, manifest.name))
        return self.fs.open(path, "rb")


def chunks(handle: Any, first: int, length: int) -> Iterator[bytes]:
    """`length` bytes of an open file from `first`, then the file closed."""
    try:
        handle.seek(first)
        left = length
        while left > 0:
            data = handle.read(min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data
    finally:
        handle.close()
