"""Tolaria's epoch end and finish: validation, validation gates, snapshot,
checkpoint, and the run's result, as a part of Trainer."""

import math
from typing import Any

import torch

from workers.engine.emergency import Level
from workers.engine.hooks import RunOutcome


class EpochEnd:
    """Epoch-end and finish methods of Trainer (see trainer.py)."""

    # ---- epoch end and finish ---------------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """Validation loss and accuracy (the model in eval mode meanwhile)."""
        self.model.eval()
        try:
            x, y, size = self.task.val_x, self.task.val_y, self.opt.val_batch
            loss_sum = torch.zeros((), device=self.device)
            correct = torch.zeros((), device=self.device)
            with self._autocast():
                for start in range(0, x.shape[0], size):
                    logits = self.model(x[start : start + size])
                    yb = y[start : start + size]
                    loss_sum += self.loss_fn(logits, yb).float() * yb.shape[0]
                    correct += (logits.argmax(dim=1) == yb).sum()
            n = max(1, x.shape[0])
            loss, hits = torch.stack([loss_sum, correct]).tolist()  # one sync
            return loss / n, hits / n
        finally:
            self.model.train()

    def _end_epoch(self, samples_per_s: float) -> None:
        """Validation, gates, snapshot, checkpoint. No step is in flight here,
        so pending commands are applied between the phases too: an operator's
        command need not wait for the whole epoch end (pause and stop take
        hold at the next step boundary)."""
        assert self.seeds is not None
        self._drain_commands()
        val_loss, val_acc = self.evaluate()
        self.metrics["val_loss"], self.metrics["val_accuracy"] = val_loss, val_acc
        self.tm.metric("tolaria.validation.loss", val_loss)
        self.tm.metric("tolaria.validation.accuracy", val_acc)
        self.tm.metric("tolaria.samples_per_s", samples_per_s)
        self.seeds.on_epoch_end(
            val_loss, lambda: self.evaluate()[0], self.metrics["step_time_ms"] or 0.0
        )
        self.tm.metric("kasmina.seeds.active", float(self.seeds.live_count()))
        if not math.isfinite(val_loss):
            self._escalate(
                *self.ladder.failure(
                    self.step, Level.ELEVATED, "non-finite validation loss"
                )
            )
        self._drain_commands()
        self._snapshot(good=self.ladder.level <= Level.NOTICE)
        if self.spec.checkpoint_every == 0:
            self._checkpoint_soon()

    def _finish(self, state: str) -> RunOutcome:
        self._flush_pending()
        info = self._checkpoint()
        return RunOutcome(state, result=self._result({"checkpoint_id": info.id}))

    def _result(self, extra: dict[str, Any]) -> dict[str, Any]:
        assert self.seeds is not None
        params = sum(p.numel() for p in self.model.parameters())
        result = {
            "steps": self.step,
            "epochs": self.epoch,
            "params": params,
            "metrics": dict(self.metrics),
            "seeds": dict(self.seeds.counts),
            "seed_stages": self.seeds.stage_counts(),
            "isolation_violations": self.seeds.monitor.violations,
            "tamiyo_timeouts": self.tamiyo.runner.timeouts if self.tamiyo else 0,
        }
        result.update(extra)
        return result
