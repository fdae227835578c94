"""One run's background writer to the artifact store.

The engine's hooks hand it files (a checkpoint it just wrote, a model bundle's
part, a report); `submit` links the file into a staging folder (the engine may
prune its local checkpoints at any time) and queues it, and never waits for
the store: the training step does not either. One thread uploads the queue in
order. A checkpoint is reported (`on_checkpoint`) only once it is complete in
the store, after retention (`checkpoint_keep`) deleted what it no longer keeps,
so the gateway's list is the store's. The queue is bounded: when full, the
oldest queued checkpoint is dropped (a newer one supersedes it). A drop or a
failed upload is a warning event and a counter, never a failed step.
"""

import contextlib
import logging
import os
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from api_schemas.artifacts import (
    ArtifactKind,
    ArtifactManifest,
    checkpoint_name,
    valid_name,
)
from workers.artifacts.checkpoints import checkpoints
from workers.artifacts.retention import to_prune
from workers.artifacts.store import ArtifactStore
from workers.engine.hooks import ArtifactFile, CheckpointInfo
from workers.metrics import ARTIFACT_UPLOADS
from workers.priority import name_os_thread

log = logging.getLogger("esper.worker.artifacts")

# A stored checkpoint and the checkpoint ids retention deleted before it.
CheckpointReport = Callable[[ArtifactManifest, list[str]], None]
# A telemetry event: name, level, attrs.
EventReport = Callable[[str, str, dict[str, Any]], None]


@dataclass(frozen=True)
class Upload:
    name: str
    kind: ArtifactKind
    staged: Path
    step: int | None = None
    expected_sha256: str | None = None  # the engine's own checksum of the file
    epoch: int | None = None  # checkpoints: epoch, good, val_accuracy
    good: bool | None = None
    val_accuracy: float | None = None


@dataclass
class UploadCounts:
    stored: int = 0
    failed: int = 0
    dropped: int = 0


class Uploader:
    def __init__(
        self,
        store: ArtifactStore,
        run_id: str,
        staging: Path,
        *,
        keep: int,
        on_checkpoint: CheckpointReport,
        on_event: EventReport,
        capacity: int = 4,
        current: Callable[[], bool] = lambda: True,
    ) -> None:
        self.store, self.run_id = store, run_id
        self.staging, self.keep, self.capacity = staging, keep, max(1, capacity)
        self.on_checkpoint, self.on_event = on_checkpoint, on_event
        # False once a later attempt of the run exists (fencing): a stale
        # worker must not overwrite or delete what the current attempt stores.
        self.current = current
        self.counts = UploadCounts()
        self._queue: deque[Upload] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._known: dict[str, ArtifactManifest] = {}  # the run's stored checkpoints
        self._thread = threading.Thread(target=self._loop, name="uploads", daemon=True)
        self._thread.start()

    # ---- the engine's side (any thread; never waits for the store) -----------

    def checkpoint(self, info: CheckpointInfo) -> None:
        """The engine's `on_checkpoint`: its folder's state.pt, checked against
        the checksum in its manifest."""
        from workers.engine import checkpoints as ckpt  # noqa: PLC0415 - torch-heavy

        folder = Path(info.path)
        try:
            files = ckpt.read_manifest(folder)["files"]
            expected = str(files[ckpt.STATE_FILE]["sha256"])
        except (OSError, ValueError, KeyError, ckpt.CheckpointError):
            expected = None  # the upload's own manifest still says what it holds
        upload = Upload(
            name=checkpoint_name(info.id),
            kind=ArtifactKind.checkpoint,
            staged=folder / ckpt.STATE_FILE,
            step=info.step,
            expected_sha256=expected,
            epoch=info.epoch,
            good=info.good,
            val_accuracy=info.val_accuracy,
        )
        self.submit(upload)

    def artifact(self, file: ArtifactFile) -> None:
        """The engine's `on_artifact`: a model bundle's part or a report."""
        kinds = {k.value: k for k in ArtifactKind}
        kind = kinds.get(file.kind)
        upload = Upload(file.name, kind or ArtifactKind.report, Path(file.path))
        if kind is None or not valid_name(file.name):
            self._dropped(upload, f"not an artifact: {file.kind} {file.name!r}", False)
            return
        self.submit(replace(upload, step=file.step))

    def submit(self, upload: Upload) -> None:
        """Stage `upload.staged` (a hard link) and queue its upload."""
        try:
            upload = replace(upload, staged=self._stage(upload.staged, upload.name))
        except OSError as exc:
            self._dropped(
                upload, f"could not stage {upload.staged}: {exc}", stage=False
            )
            return
        with self._cond:
            evicted = self._make_room(upload)
            if evicted is not upload:
                self._queue.append(upload)
                self._cond.notify_all()
        if evicted is not None:
            self._dropped(evicted, "upload queue full")

    def close(self, timeout: float) -> bool:
        """Upload what is queued, within `timeout`; whether all of it was.
        A late upload carries on in the background and is still reported."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        with contextlib.suppress(OSError):  # empty now, unless a drop raced
            self.staging.rmdir()
        return True

    def _stage(self, source: Path, name: str) -> Path:
        self.staging.mkdir(parents=True, exist_ok=True)
        staged = self.staging / f"{uuid.uuid4().hex[:12]}-{name}"
        try:
            os.link(source, staged)
        except OSError:  # another file system: a copy
            shutil.copyfile(source, staged)
        return staged

    def _make_room(self, upload: Upload) -> Upload | None:
        """What gives way when the queue is full: its oldest checkpoint, else
        the new upload. Called holding the lock."""
        if len(self._queue) < self.capacity:
            return None
        for queued in self._queue:
            if queued.kind is ArtifactKind.checkpoint:
                self._queue.remove(queued)
                return queued
        return upload

    def _dropped(self, upload: Upload, why: str, stage: bool = True) -> None:
        if stage:  # never the engine's own file
            upload.staged.unlink(missing_ok=True)
        self.counts.dropped += 1
        ARTIFACT_UPLOADS.labels("dropped").inc()
        log.warning(
            "artifact %s of run %s not uploaded: %s", upload.name, self.run_id, why
        )
        self._event("artifacts.upload_dropped", upload, why)

    # ---- the upload thread -----------------------------------------------------

    def _loop(self) -> None:
        name_os_thread("esper-uploads")
        self._load_known()
        while (upload := self._next()) is not None:
            if not self.current():
                self._dropped(upload, "a later attempt of the run exists")
                continue
            try:
                self._upload(upload)
            except Exception as exc:  # reported; the run goes on
                self.counts.failed += 1
                ARTIFACT_UPLOADS.labels("failed").inc()
                log.warning("upload of %s failed: %r", upload.name, exc)
                self._event("artifacts.upload_failed", upload, repr(exc)[:500])
            finally:
                upload.staged.unlink(missing_ok=True)

    def _next(self) -> Upload | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if not self._queue:
                return None
            return self._queue.popleft()

    def _load_known(self) -> None:
        """Checkpoints an earlier attempt of the run stored count for retention."""
        try:
            self._known = {m.name: m for m in checkpoints(self.store, self.run_id)}
        except Exception as exc:  # retention then sees this attempt's only
            log.warning("could not list run %s's checkpoints: %r", self.run_id, exc)

    def _upload(self, upload: Upload) -> None:
        started = time.perf_counter()
        manifest = self.store.upload(
            self.run_id,
            upload.staged,
            name=upload.name,
            kind=upload.kind,
            step=upload.step,
            expected_sha256=upload.expected_sha256,
            link=upload.kind is ArtifactKind.checkpoint,  # written once, renamed
            epoch=upload.epoch,
            good=upload.good,
            val_accuracy=upload.val_accuracy,
        )
        self.counts.stored += 1
        ARTIFACT_UPLOADS.labels("stored").inc()
        attrs = {"seconds": round(time.perf_counter() - started, 3)}
        self._event("artifacts.stored", upload, None, bytes=manifest.bytes, **attrs)
        if manifest.kind is ArtifactKind.checkpoint:
            self.on_checkpoint(manifest, self._retain(manifest))

    def _retain(self, stored: ArtifactManifest) -> list[str]:
        """Apply `checkpoint_keep`; the ids of the checkpoints deleted."""
        self._known[stored.name] = stored
        pruned: list[str] = []
        for old in to_prune(self._known.values(), self.keep):
            try:
                self.store.delete(self.run_id, old.name)
            except Exception as exc:  # kept for the next round
                log.warning("could not delete %s: %r", old.name, exc)
                continue
            del self._known[old.name]
            pruned.append(old.checkpoint_id or old.name)
        return pruned

    def _event(self, name: str, upload: Upload, why: str | None, **attrs: Any) -> None:
        level = "info" if why is None else "warning"
        attrs.update(artifact=upload.name, kind=upload.kind.value, step=upload.step)
        if why is not None:
            attrs["reason"] = why
        self.on_event(name, level, attrs)
