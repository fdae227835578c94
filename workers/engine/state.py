"""The training loop's own state, declared in one place.

`TrainState` is where the run is and what the operator asked of it: the loop
(trainer.py) reads and writes it, the command handlers change it only through
the trainer's named methods, recovery restores the position from a checkpoint,
and the runner's progress thread copies it (`TrainState.progress`).
"""

from dataclasses import dataclass, field
from typing import Any

from workers.engine.hooks import Progress


@dataclass
class TrainState:
    step: int = 0  # optimizer updates made
    epoch: int = 0  # epochs finished
    batch_in_epoch: int = 0  # batches of the current epoch done (resume mid-epoch)
    # Training FLOPs of the updates made (compute.py). A checkpoint records it
    # and a resume restores it; a rollback keeps it: that compute was spent.
    train_flops: int = 0
    paused: bool = False
    stop_requested: bool = False
    # The step at which the loop first saw the halt flag (halt latency in steps).
    halt_seen_step: int | None = None
    # The seed slots as the progress thread shows them, refreshed on every
    # stage change (copies: the progress thread must not walk live modules).
    seed_view: list[dict[str, Any]] = field(default_factory=list)
    seed_counts: dict[str, int] = field(default_factory=dict)

    def position(self) -> dict[str, int]:
        """Where the run is and what it has spent, as a checkpoint records it."""
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "train_flops": self.train_flops,
        }

    def progress(self, metrics: dict[str, float | None]) -> Progress:
        """Cheap, thread-safe snapshot (the runner's progress thread): copies
        of small dicts and lists only."""
        return Progress(
            step=self.step,
            epoch=self.epoch,
            metrics=dict(metrics),
            seed_counts=dict(self.seed_counts),
            seeds=list(self.seed_view),
            paused=self.paused,
        )

    def see_halt(self) -> None:
        if self.halt_seen_step is None:
            self.halt_seen_step = self.step
