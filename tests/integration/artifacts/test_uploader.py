"""A run's uploader over a real store (a local directory and the S3 server):
the engine's checkpoints uploaded and reported, `checkpoint_keep` applied in
the store, and a checkpoint the worker no longer has on disk fetched back
into a folder the engine loads."""

import shutil
from pathlib import Path
from typing import Any

import torch

from api_schemas.artifacts import ArtifactKind, ArtifactManifest
from tests.fixtures.s3 import StoreLocation
from workers.artifacts.checkpoints import checkpoints, fetch_checkpoint, find
from workers.artifacts.store import ArtifactStore
from workers.artifacts.uploader import Uploader
from workers.engine import checkpoints as ckpt
from workers.engine.hooks import ArtifactFile, CheckpointInfo

RUN = "run-u"
# step -> the validation accuracy at it; the best (0.9, step 20) is old.
ACCURACY = {10: 0.5, 20: 0.9, 30: 0.6, 40: 0.7, 50: 0.8}


class Reports:
    def __init__(self) -> None:
        self.checkpoints: list[tuple[ArtifactManifest, list[str]]] = []
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def checkpoint(self, manifest: ArtifactManifest, pruned: list[str]) -> None:
        self.checkpoints.append((manifest, pruned))

    def event(self, name: str, level: str, attrs: dict[str, Any]) -> None:
        self.events.append((name, level, attrs))


def state(step: int) -> dict[str, Any]:
    return {"model": {"w": torch.full((64, 64), float(step))}, "step": step}


def uploading(
    where: StoreLocation, tmp: Path, keep: int, capacity: int = 4
) -> tuple[ArtifactStore, Uploader, Reports]:
    """The store, the run's uploader into it (staging under `tmp`) and what
    the uploader reports."""
    store = ArtifactStore(where.url, where.options)
    reports = Reports()
    uploader = Uploader(
        store,
        RUN,
        tmp / "staging",
        keep=keep,
        on_checkpoint=reports.checkpoint,
        on_event=reports.event,
        capacity=capacity,
    )
    return store, uploader, reports


def write(root: Path, step: int) -> CheckpointInfo:
    ckpt_id, path, size = ckpt.write_checkpoint(root, state(step), step=step, epoch=1)
    return CheckpointInfo(ckpt_id, str(path), step, 1, size, True, ACCURACY[step])


def test_checkpoints_go_to_the_store_and_retention_keeps_the_newest_and_best(
    artifact_store: StoreLocation, tmp_path: Path
) -> None:
    store, uploader, reports = uploading(artifact_store, tmp_path, keep=2, capacity=16)
    local = tmp_path / "ckpt"
    for step in ACCURACY:
        uploader.checkpoint(write(local, step))
        ckpt.prune_checkpoints(local, keep=1)  # the engine prunes its own copies
    bundle = tmp_path / "model.json"
    bundle.write_text("{}")
    uploader.artifact(ArtifactFile("model.json", str(bundle), "model", 50))
    assert uploader.close(timeout=60)

    kept = [m.checkpoint_id for m in checkpoints(store, RUN)]
    assert kept == ["ckpt-000000020", "ckpt-000000040", "ckpt-000000050"]
    assert [m.step for m, _ in reports.checkpoints] == list(ACCURACY)
    pruned = [p for _, ids in reports.checkpoints for p in ids]
    assert sorted(pruned) == ["ckpt-000000010", "ckpt-000000030"]
    assert {m.name for m in store.manifests(RUN) if m.kind is ArtifactKind.model} == {
        "model.json"
    }
    assert uploader.counts.stored == 6 and not (tmp_path / "staging").exists()
    assert all(level == "info" for _, level, _ in reports.events)


def test_a_checkpoint_pruned_locally_is_fetched_back_loadable(
    artifact_store: StoreLocation, tmp_path: Path
) -> None:
    store, uploader, _reports = uploading(artifact_store, tmp_path, keep=5)
    local = tmp_path / "ckpt"
    for step in (10, 20):
        uploader.checkpoint(write(local, step))
    assert uploader.close(timeout=60)
    shutil.rmtree(local)  # the worker's copies are gone (another host, pruned)

    assert find(store, RUN, None) is not None
    assert find(store, RUN, "20") == find(store, RUN, "ckpt-000000020")
    folder = fetch_checkpoint(store, RUN, "ckpt-000000010", tmp_path / "fetched")
    assert folder is not None and folder.name == "ckpt-000000010"
    loaded = ckpt.load_checkpoint(folder)
    assert torch.equal(loaded["model"]["w"], state(10)["model"]["w"])
    assert ckpt.read_manifest(folder)["step"] == 10
    # Fetched again: the local folder is reused; an unknown id is None.
    assert fetch_checkpoint(store, RUN, "10", tmp_path / "fetched") == folder
    assert fetch_checkpoint(store, RUN, "ckpt-000000099", tmp_path / "f2") is None
