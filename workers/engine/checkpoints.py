"""Durable checkpoints: atomic directory writes with a sha256 manifest.

A checkpoint is a directory `ckpt-<step>` holding `state.pt` and `manifest.json`.
It is written under a temporary name, fsynced, then renamed, so a reader never
sees half a checkpoint; loading verifies every checksum before unpickling.
"""

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import torch

MANIFEST = "manifest.json"
STATE_FILE = "state.pt"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or fails its checksum."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(
    root: Path, state: dict[str, Any], *, step: int, epoch: int, good: bool = True
) -> tuple[str, Path, int]:
    """Write `state` atomically under root; returns (id, path, bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    ckpt_id = f"ckpt-{step:09d}"
    tmp = root / f".tmp-{ckpt_id}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    torch.save(state, tmp / STATE_FILE)
    _fsync_file(tmp / STATE_FILE)
    size = (tmp / STATE_FILE).stat().st_size
    manifest = _manifest(ckpt_id, step, epoch, good, _sha256(tmp / STATE_FILE), size)
    return ckpt_id, _seal(root, tmp, manifest), size


def adopt_checkpoint(
    root: Path, folder: Path, *, step: int, epoch: int, good: bool, sha256: str
) -> Path:
    """A folder holding a verified `state.pt` (fetched from the artifact
    store) made the checkpoint `ckpt-<step>` under root. If another thread or
    rank adopted the same checkpoint first, theirs is kept."""
    ckpt_id = f"ckpt-{step:09d}"
    size = (folder / STATE_FILE).stat().st_size
    manifest = _manifest(ckpt_id, step, epoch, good, sha256, size)
    try:
        return _seal(root, folder, manifest, replace=False)
    except OSError:
        if not (root / ckpt_id / MANIFEST).is_file():
            raise
        shutil.rmtree(folder, ignore_errors=True)
        return root / ckpt_id


def _manifest(
    ckpt_id: str, step: int, epoch: int, good: bool, sha256: str, size: int
) -> dict[str, Any]:
    return {
        "id": ckpt_id,
        "step": step,
        "epoch": epoch,
        "good": good,
        "created": time.time(),
        "files": {STATE_FILE: {"sha256": sha256, "bytes": size}},
    }


def _seal(
    root: Path, tmp: Path, manifest: dict[str, Any], replace: bool = True
) -> Path:
    """Write the manifest into `tmp`, then rename it to `root/<id>`."""
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    _fsync_file(tmp / MANIFEST)
    _fsync_dir(tmp)
    final = root / manifest["id"]
    if final.exists() and replace:
        shutil.rmtree(final)
    os.replace(tmp, final)  # onto an existing, non-empty folder: OSError
    _fsync_dir(root)
    return final


def read_manifest(path: Path) -> dict[str, Any]:
    path = path.parent if path.name == MANIFEST else path
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise CheckpointError(f"no manifest in {path}")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    return manifest


def load_checkpoint(
    path: Path | str, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Verify checksums and load the state (weights_only: no arbitrary code)."""
    path = Path(path)
    path = path.parent if path.name == MANIFEST else path
    manifest = read_manifest(path)
    for name, meta in manifest["files"].items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"checkpoint {path} lacks {name}")
        if _sha256(file) != meta["sha256"]:
            raise CheckpointError(f"checksum mismatch for {file}")
    state: dict[str, Any] = torch.load(
        path / STATE_FILE, map_location=map_location, weights_only=True
    )
    return state


def list_checkpoints(root: Path) -> list[dict[str, Any]]:
    """Manifests of complete checkpoints under root, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for child in sorted(root.glob("ckpt-*")):
        try:
            manifest = read_manifest(child)
        except (CheckpointError, json.JSONDecodeError):
            continue
        manifest["path"] = str(child)
        found.append(manifest)
    return found


def prune_checkpoints(root: Path, keep: int) -> None:
    """Keep the newest `keep` checkpoints (the newest good one is always kept)."""
    found = list_checkpoints(root)
    good = [m for m in found if m.get("good")]
    protect = {good[-1]["id"]} if good else set()
    for manifest in found[:-keep] if keep > 0 else []:
        if manifest["id"] not in protect:
            shutil.rmtree(manifest["path"], ignore_errors=True)
