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
from workers.context import WorkerContext
from workers.device import train_device
from workers.engine.hooks import Hooks, Packet

START_DIR = "start"  # under the run's checkpoint folder: never one of its own


@dataclass(frozen=True)
class Start:
    path: str | None  # the local checkpoint folder to load (None: from scratch)
    fork: bool  # another run's checkpoint: its model, not its position
    event: Packet | None  # `run.resumed` or `run.forked`, for the run's stream


def build_trainer(
    ctx: WorkerContext, assignment: RunAssignment, hooks: Hooks, store: ArtifactStore
) -> tuple[Any, Start]:
    """The run's engine, from where it starts: a Trainer, or a DistributedRun
    when the spec asks for several devices."""
    from workers.engine.trainer import Trainer  # noqa: PLC0415 - torch-heavy

    spec = assignment.spec
    checkpoint_dir = ctx.settings.checkpoint_root / assignment.run_id
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    start = starting_point(store, assignment, checkpoint_dir)
    if spec.devices is not None:  # one run over several devices (DDP)
        from workers.distributed import DistributedRun, wants_several  # noqa: PLC0415

        if wants_several(spec):
            return DistributedRun(
                spec,
                hooks,
                run_id=assignment.run_id,
                checkpoint_dir=checkpoint_dir,
                device=ctx.device,
                resume_from=start.path,
                fork=start.fork,
            ), start
    return Trainer(
        spec,
        hooks,
        run_id=assignment.run_id,
        checkpoint_dir=checkpoint_dir,
        device=train_device(ctx.device, spec.device),
        resume_from=start.path,
        fork=start.fork,
    ), start


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
