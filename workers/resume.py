"""Where a claimed run starts: from scratch, from its own latest good
checkpoint (a resumed attempt, after its worker was lost), or from another
run's checkpoint (a fork: `resume_from` in the spec). Either checkpoint comes
from the artifact store, so any worker on any host can start the run."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api_schemas.bus import RunAssignment
from workers.artifacts.checkpoints import fetch, find
from workers.artifacts.store import ArtifactStore
from workers.engine.hooks import Packet

START_DIR = "start"  # under the run's checkpoint folder: never one of its own


@dataclass(frozen=True)
class Start:
    path: str | None  # the local checkpoint folder to load (None: from scratch)
    fork: bool  # another run's checkpoint: its model, not its position
    event: Packet | None  # `run.resumed` or `run.forked`, for the run's stream


def starting_point(
    store: ArtifactStore, assignment: RunAssignment, checkpoint_dir: Path
) -> Start:
    """Fetch the assignment's checkpoint (if any) into the run's own folder."""
    point = assignment.resume
    if point is None:
        return Start(None, False, None)
    manifest = find(store, point.run_id, point.checkpoint_id)
    if manifest is None and point.fork:
        raise LookupError(
            f"checkpoint {point.checkpoint_id or '(latest good)'} of run "
            f"{point.run_id} is not in the artifact store"
        )
    folder = (
        None if manifest is None else fetch(store, manifest, checkpoint_dir / START_DIR)
    )
    from_step = (manifest.step or 0) if manifest is not None else 0
    attrs: dict[str, Any] = {
        "from_step": from_step,
        "checkpoint_id": None if manifest is None else manifest.checkpoint_id,
    }
    if point.fork:
        attrs["from_run"] = point.run_id
        return Start(str(folder), True, _event("run.forked", "info", attrs))
    # A lost attempt before its first checkpoint starts again from scratch.
    lost_at = assignment.lost_at_step if assignment.lost_at_step is not None else 0
    attrs.update(attempt=assignment.attempt, steps_lost=max(0, lost_at - from_step))
    path = None if folder is None else str(folder)
    return Start(path, False, _event("run.resumed", "warning", attrs))


def _event(name: str, level: str, attrs: dict[str, Any]) -> Packet:
    return {
        "kind": "event",
        "name": name,
        "value": None,
        "step": attrs["from_step"],
        "epoch": 0,
        "level": level,
        "attrs": attrs,
    }
