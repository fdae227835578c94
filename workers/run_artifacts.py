"""One run's artifacts on a worker: the engine's artifact hooks, served.

Checkpoints and other files go to the run's uploader (workers/artifacts/),
which uploads them off the training thread; a checkpoint is reported to the
gateway (`CheckpointEvent`, with what retention deleted) only once it is
complete in the store. A rollback to a checkpoint no longer on local disk
fetches it from the store.
"""

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from api_schemas import artifacts as layout
from api_schemas.artifacts import ArtifactManifest
from api_schemas.bus import CheckpointEvent
from workers.artifacts.checkpoints import fetch_checkpoint
from workers.artifacts.store import ArtifactStore
from workers.artifacts.uploader import Uploader
from workers.context import WorkerContext
from workers.engine.hooks import Hooks, Packet

log = logging.getLogger("esper.worker.artifacts")
# A profiler trace (workers/engine/profiling.py: PREFIX, EXPORT_FAILED) the
# store did not take is the profiler's failure too: the operator watches one
# event for a trace that never arrives.
PROFILE_PREFIX = "profile-"
PROFILER_EXPORT_FAILED = "tolaria.profiler.export_failed"
UPLOAD_FAILURES = frozenset({"artifacts.upload_failed", "artifacts.upload_dropped"})


def open_store(url: str, options: dict[str, Any]) -> ArtifactStore:
    """The worker's store (one per URL and options): opened at start, so a
    bad ESPER_ARTIFACT_URL stops the worker, not a run."""
    return _open(url, json.dumps(options, sort_keys=True))


@functools.lru_cache(maxsize=4)
def _open(url: str, options: str) -> ArtifactStore:
    return ArtifactStore(url, json.loads(options))


class RunArtifacts:
    def __init__(
        self,
        ctx: WorkerContext,
        run_id: str,
        *,
        attempt: int,
        keep: int,
        checkpoint_dir: Path,
        emit: Callable[[Packet], None],
        publish: Callable[[BaseModel], None],
        current: Callable[[], bool] = lambda: True,
    ) -> None:
        s = ctx.settings
        self.ctx, self.run_id, self.attempt = ctx, run_id, attempt
        self.checkpoint_dir = checkpoint_dir
        self.emit, self.publish = emit, publish
        self.store = open_store(s.artifact_store_url, s.artifact_options)
        self.uploader = Uploader(
            self.store,
            run_id,
            s.upload_staging / run_id,
            keep=keep,
            on_checkpoint=self._report,
            on_event=self._event,
            capacity=s.upload_queue,
            current=current,
        )

    def bind(self, hooks: Hooks) -> None:
        """Serve the engine's artifact hooks."""
        hooks.on_checkpoint = self.uploader.checkpoint
        hooks.on_artifact = self.uploader.artifact
        hooks.fetch_checkpoint = self.fetch_checkpoint

    def fetch_checkpoint(self, target: str | None) -> str | None:
        """The engine's `fetch_checkpoint` (training thread, during a rollback)."""
        return fetch_or_refuse(self.store, self.run_id, target, self.checkpoint_dir)

    def close(self, timeout: float) -> None:
        """At the run's end: wait (within `timeout`) for its queued uploads,
        so the final checkpoint and the model bundle are in the store, and
        listed, when the run is reported ended."""
        if not self.uploader.close(timeout):
            log.warning(
                "run %s: uploads still running after %.0f s; they go on in the "
                "background",
                self.run_id,
                timeout,
            )

    def _report(self, manifest: ArtifactManifest, pruned: list[str]) -> None:
        self.publish(
            CheckpointEvent(
                run_id=self.run_id,
                worker_id=self.ctx.worker_id,
                attempt=self.attempt,
                checkpoint_id=manifest.checkpoint_id or manifest.name,
                path=layout.content_path(self.run_id, manifest.name),
                step=manifest.step or 0,
                epoch=manifest.epoch or 0,
                bytes=manifest.bytes,
                good=bool(manifest.good),
                sha256=manifest.sha256,
                val_accuracy=manifest.val_accuracy,
                pruned=pruned,
            ),
        )

    def _event(self, name: str, level: str, attrs: dict[str, Any]) -> None:
        self._emit_event(name, level, attrs)
        if profile_lost(name, attrs):
            lost = {k: attrs.get(k) for k in ("artifact", "reason", "step")}
            lost["stage"] = "upload"
            self._emit_event(PROFILER_EXPORT_FAILED, "warning", lost)

    def _emit_event(self, name: str, level: str, attrs: dict[str, Any]) -> None:
        self.emit(
            {
                "kind": "event",
                "name": name,
                "value": None,
                "step": attrs.get("step") or 0,
                "epoch": 0,
                "level": level,
                "attrs": attrs,
            }
        )


def profile_lost(name: str, attrs: dict[str, Any]) -> bool:
    """Whether an uploader event says a profiler trace did not reach the store."""
    artifact = str(attrs.get("artifact") or "")
    return name in UPLOAD_FAILURES and artifact.startswith(PROFILE_PREFIX)


def fetch_or_refuse(
    store: ArtifactStore, run_id: str, target: str | None, root: Path
) -> str | None:
    """A checkpoint fetched from the store into `root`. A store that fails is
    a LookupError: the rollback is refused with the reason, the run goes on."""
    try:
        folder = fetch_checkpoint(store, run_id, target, root)
    except Exception as exc:
        log.warning("run %s: fetching %s failed: %r", run_id, target, exc)
        raise LookupError(
            f"checkpoint {target or '(last good)'} could not be fetched from "
            f"the artifact store: {type(exc).__name__}: {exc}"
        ) from exc
    return None if folder is None else str(folder)
