"""A run's checkpoints in the artifact store, as a worker uses them: find one
(by id, by step, or the latest good) and fetch it into a local checkpoint
folder the engine loads (`Trainer(resume_from=...)`, a rollback).

    found = find(store, run_id, None)              # the latest good, or None
    folder = fetch(store, found, local_root)       # root/ckpt-<step>/, verified
"""

import shutil
import uuid
from pathlib import Path

from api_schemas.artifacts import ArtifactKind, ArtifactManifest
from workers.artifacts.retention import latest_good
from workers.artifacts.store import ArtifactError, ArtifactStore


def checkpoints(store: ArtifactStore, run_id: str) -> list[ArtifactManifest]:
    """The run's complete checkpoints in the store, oldest first."""
    found = [m for m in store.manifests(run_id) if m.kind is ArtifactKind.checkpoint]
    return sorted(found, key=lambda m: (m.step or 0, m.name))


def find(
    store: ArtifactStore, run_id: str, target: str | None
) -> ArtifactManifest | None:
    """`target`: a checkpoint id, its artifact name or its step; None: the
    latest good checkpoint (what a run resumes from)."""
    found = checkpoints(store, run_id)
    if target is None:
        return latest_good(found)
    for manifest in reversed(found):
        if target in (manifest.checkpoint_id, manifest.name, str(manifest.step)):
            return manifest
    return None


def fetch(store: ArtifactStore, manifest: ArtifactManifest, root: Path) -> Path:
    """Download a checkpoint into `root/<id>/` (state.pt, verified against
    its manifest, and the engine's manifest.json); the local folder if it is
    there already. Returns the folder, which `load_checkpoint` reads."""
    from workers.engine import checkpoints as ckpt  # noqa: PLC0415 - torch-heavy

    if manifest.kind is not ArtifactKind.checkpoint or manifest.step is None:
        raise ArtifactError(f"{manifest.name} is not a checkpoint")
    local = root / (manifest.checkpoint_id or manifest.name)
    if (local / ckpt.MANIFEST).is_file():
        return local
    folder = root / f".fetch-{manifest.name}-{uuid.uuid4().hex[:8]}"
    try:
        store.download(manifest, folder / ckpt.STATE_FILE)
        return ckpt.adopt_checkpoint(
            root,
            folder,
            step=manifest.step,
            epoch=manifest.epoch or 0,
            good=bool(manifest.good),
            sha256=manifest.sha256,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fetch_checkpoint(
    store: ArtifactStore, run_id: str, target: str | None, root: Path
) -> Path | None:
    """`find` then `fetch`: None when the store has no such checkpoint."""
    manifest = find(store, run_id, target)
    return None if manifest is None else fetch(store, manifest, root)
