"""The uploader's own logic with a store that blocks or fails on demand: the
engine's side never waits and never raises; a full queue drops the oldest
checkpoint, a failed upload is reported; both are counted."""

import threading
from pathlib import Path
from typing import Any, cast

from api_schemas.artifacts import ArtifactKind, ArtifactManifest
from workers.artifacts.store import ArtifactStore
from workers.artifacts.uploader import Upload, Uploader
from workers.engine.hooks import ArtifactFile

Events = list[tuple[str, str, dict[str, Any]]]


class GatedStore:
    """Uploads wait for `gate`; names in `failing` raise."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()  # an upload is waiting at the gate
        self.failing = failing
        self.uploaded: list[str] = []

    def manifests(self, run_id: str) -> list[ArtifactManifest]:
        return []

    def upload(self, run_id: str, source: Path, *, name: str, **_: Any) -> Any:
        self.entered.set()
        self.gate.wait(30)
        if name in self.failing:
            raise OSError("store unavailable")
        self.uploaded.append(name)
        return ArtifactManifest.model_validate(
            {
                "run_id": run_id,
                "name": name,
                "kind": "report",
                "bytes": 1,
                "sha256": "0" * 64,
                "created_at": "2026-01-01T00:00:00Z",
            }
        )


def uploader(store: GatedStore, tmp_path: Path, events: Events) -> Uploader:
    return Uploader(
        cast(ArtifactStore, store),
        "run",
        tmp_path / "staging",
        keep=3,
        on_checkpoint=lambda m, p: None,
        on_event=lambda name, level, attrs: events.append((name, level, attrs)),
        capacity=2,
    )


def files(tmp_path: Path, *names: str) -> list[Path]:
    paths = [tmp_path / name for name in names]
    for path in paths:
        path.write_bytes(b"x")
    return paths


def test_a_full_queue_drops_the_oldest_checkpoint_and_never_blocks(
    tmp_path: Path,
) -> None:
    store, events = GatedStore(), Events()
    up = uploader(store, tmp_path, events)
    names = ["c1", "c2", "c3", "c4", "report"]
    for name, path in zip(names, files(tmp_path, *names), strict=True):
        kind = ArtifactKind.report if name == "report" else ArtifactKind.checkpoint
        up.submit(Upload(name, kind, path))
        if name == "c1":  # taken by the upload thread, which now waits
            assert store.entered.wait(10)
    store.gate.set()
    assert up.close(timeout=10)
    dropped = [
        a["artifact"] for n, level, a in events if n == "artifacts.upload_dropped"
    ]
    assert dropped == ["c2", "c3"] and up.counts.dropped == 2
    assert store.uploaded == ["c1", "c4", "report"]
    assert all(p.exists() for p in tmp_path.iterdir() if p.is_file())  # sources kept
    assert not (tmp_path / "staging").exists()  # staged links all gone, then it


def test_a_failed_upload_is_a_warning_and_the_next_one_goes_on(tmp_path: Path) -> None:
    store, events = GatedStore(failing=frozenset({"bad"})), Events()
    store.gate.set()
    up = uploader(store, tmp_path, events)
    for name, path in zip(("bad", "good"), files(tmp_path, "bad", "good"), strict=True):
        up.submit(Upload(name, ArtifactKind.report, path))
    assert up.close(timeout=10)
    assert store.uploaded == ["good"] and up.counts.failed == 1
    failed = [(level, a) for n, level, a in events if n == "artifacts.upload_failed"]
    assert (
        failed and failed[0][0] == "warning" and "unavailable" in failed[0][1]["reason"]
    )


def test_a_stale_attempt_uploads_nothing(tmp_path: Path) -> None:
    store, events = GatedStore(), Events()
    store.gate.set()
    up = Uploader(
        cast(ArtifactStore, store),
        "run",
        tmp_path / "staging",
        keep=3,
        on_checkpoint=lambda m, p: None,
        on_event=lambda *event: events.append(event),
        current=lambda: False,
    )
    up.submit(Upload("c1", ArtifactKind.checkpoint, files(tmp_path, "c1")[0]))
    assert up.close(timeout=10)
    assert store.uploaded == [] and up.counts.dropped == 1


def test_a_file_that_is_no_artifact_is_dropped_not_raised(tmp_path: Path) -> None:
    store, events = GatedStore(), Events()
    store.gate.set()
    up = uploader(store, tmp_path, events)
    source = files(tmp_path, "f")[0]
    up.artifact(ArtifactFile("model.json", str(source), "weights", 1))
    up.artifact(ArtifactFile("../model.json", str(source), "model", 1))
    up.artifact(ArtifactFile("model.json", str(source), "model", 1))
    assert up.close(timeout=10)
    assert store.uploaded == ["model.json"] and up.counts.dropped == 2
    assert source.exists()
