"""steady-train --checkpoint-every N: the engine's checkpoints go to a real
artifact store (a local directory, through the worker's uploader), as on a
worker, so the figure includes what checkpointing costs the step: the host
copy on the training thread; the write, the sha256 and the upload stay on
their own threads."""

import argparse
import contextlib
import shutil
from collections.abc import Iterator

from load.scenarios.common import temp_dir
from workers.artifacts.store import ArtifactStore
from workers.artifacts.uploader import UploadCounts, Uploader
from workers.engine.hooks import Hooks

TOTALS = UploadCounts()  # over every engine run of the benchmark


@contextlib.contextmanager
def to_the_store(args: argparse.Namespace, hooks: Hooks) -> Iterator[None]:
    """With --checkpoint-every: `hooks.on_checkpoint` uploads to a temporary
    store (removed afterwards), and the uploads are drained after the run."""
    if not getattr(args, "checkpoint_every", None):
        yield
        return
    folder = temp_dir()
    uploader = Uploader(
        ArtifactStore(str(folder / "store")),
        "bench",
        folder / "staging",
        keep=3,
        on_checkpoint=lambda manifest, pruned: None,
        on_event=lambda name, level, attrs: None,
    )
    hooks.on_checkpoint = uploader.checkpoint
    try:
        yield
    finally:
        uploader.close(timeout=120)
        for field in ("stored", "failed", "dropped"):
            total = getattr(TOTALS, field) + getattr(uploader.counts, field)
            setattr(TOTALS, field, total)
        shutil.rmtree(folder, ignore_errors=True)


def summary(args: argparse.Namespace) -> str | None:
    if not getattr(args, "checkpoint_every", None):
        return None
    return (
        f"checkpoints every {args.checkpoint_every} steps to a local artifact "
        f"store: {TOTALS.stored} stored, {TOTALS.dropped} dropped, "
        f"{TOTALS.failed} failed"
    )
