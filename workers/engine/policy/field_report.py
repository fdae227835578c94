"""Field reports: each decision's outcome after an observation window, appended
as JSON lines (flushed and fsynced) for offline policy training."""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class PendingDecision:
    step: int
    decision: dict[str, Any]
    inputs: dict[str, Any]
    loss_before: float | None
    extra: dict[str, Any] = field(default_factory=dict)


class FieldReportLog:
    def __init__(self, path: Path, window: int = 100, tolerance: float = 0.01) -> None:
        self.path = path
        self.window = window
        self.tolerance = tolerance
        self.pending: list[PendingDecision] = []
        self.written = 0

    def track(
        self,
        step: int,
        decision: dict[str, Any],
        inputs: dict[str, Any],
        loss_before: float | None,
    ) -> None:
        self.pending.append(PendingDecision(step, decision, inputs, loss_before))

    def outcome(self, before: float | None, after: float | None) -> str:
        if before is None or after is None or before <= 0:
            return "neutral"
        change = (after - before) / before
        if change < -self.tolerance:
            return "success"
        return "regression" if change > self.tolerance else "neutral"

    def observe(self, step: int, loss_now: float | None, final: bool = False) -> None:
        """Write every decision whose window has elapsed (all, when final)."""
        due = [p for p in self.pending if final or step - p.step >= self.window]
        if not due:
            return
        self.pending = [p for p in self.pending if p not in due]
        lines = [
            json.dumps(
                {
                    "decision_step": p.step,
                    "observed_step": step,
                    "decision": p.decision,
                    "inputs": p.inputs,
                    "loss_before": p.loss_before,
                    "loss_after": loss_now,
                    "outcome": self.outcome(p.loss_before, loss_now),
                    "window_complete": step - p.step >= self.window,
                }
            )
            for p in due
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.written += len(lines)
