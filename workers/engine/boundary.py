"""Where a run may stop: the step boundary (operator commands, pause, halt,
stop) and the run's end (completed, cancelled or halted), with its final
checkpoint, the model bundle and the result the runner reports.

Split from the trainer, which calls `check()` before each step, `halt()` when a
step observed a halt, and `finish("completed")` after its last step. It reads
the loop's state and writes only what a halt or a pause changes there
(`see_halt`); the commands themselves go through `RunControl`.
"""

import time
from pathlib import Path
from typing import Any

from api_schemas.runs import RunCreate
from workers.engine.build import Parts
from workers.engine.control import RunControl
from workers.engine.cuda_graphs import StepGraphs
from workers.engine.emergency import EmergencyGuard
from workers.engine.export import BUNDLE_DIR, RunEnd, export_model
from workers.engine.hooks import Hooks, RunOutcome
from workers.engine.options import EngineOptions
from workers.engine.recovery import Recovery
from workers.engine.state import TrainState
from workers.engine.step_metrics import StepMetrics
from workers.engine.strategy import Strategy
from workers.engine.telemetry import Telemetry


class StepBoundary:
    def __init__(
        self,
        *,
        spec: RunCreate,
        run_id: str,
        out_dir: Path,
        opt: EngineOptions,
        state: TrainState,
        hooks: Hooks,
        telemetry: Telemetry,
        strategy: Strategy,
        parts: Parts,
        control: RunControl,
        recovery: Recovery,
        guard: EmergencyGuard,
        metrics: StepMetrics,
        graphs: StepGraphs,
    ) -> None:
        self.spec, self.run_id, self.out_dir, self.opt = spec, run_id, out_dir, opt
        self.state, self.hooks, self.tm = state, hooks, telemetry
        self.strategy, self.parts, self.control = strategy, parts, control
        self.recovery, self.guard = recovery, guard
        self.metrics, self.graphs = metrics, graphs

    # ---- the step boundary: commands, pause, halt ----------------------------

    def check(self) -> RunOutcome | None:
        """Before a step: the run's outcome if it ends here, else None."""
        if self.hooks.halt.is_set():
            return self.halt()
        self.control.drain()
        if self.state.paused:
            self._wait_while_paused()
        if self.hooks.halt.is_set():
            return self.halt()
        if self.state.stop_requested:
            return self.finish("cancelled")
        return None

    def _wait_while_paused(self) -> None:
        state = self.state
        self.metrics.flush()
        self.hooks.on_state("paused", {"step": state.step})
        self.tm.state("paused")
        while (
            state.paused and not state.stop_requested and not self.hooks.halt.is_set()
        ):
            time.sleep(self.opt.pause_poll_s)
            self.control.drain()
        if not state.paused:
            self.hooks.on_state("running", {"step": state.step})
            self.tm.state("running")

    # ---- the run's end ---------------------------------------------------------

    def finish(self, state: str) -> RunOutcome:
        self.metrics.flush()
        info = self.recovery.checkpoint(self.guard.healthy)
        self._export(state)
        return RunOutcome(state, result=self._result({"checkpoint_id": info.id}))

    def halt(self) -> RunOutcome:
        """L4: no more updates; write a checkpoint and report halted."""
        state = self.state
        state.see_halt()
        self.metrics.flush()
        reason = self.guard.halt_reason()
        self.tm.event(
            "tolaria.emergency.halt", "critical", {"reason": reason, "step": state.step}
        )
        info = self.recovery.checkpoint(good=False)
        self._export("halted")
        seen = state.halt_seen_step if state.halt_seen_step is not None else state.step
        result = {
            "steps_after_halt": state.step - seen,
            "last_step": state.step,
            "halt_observed_step": seen,
            "checkpoint_id": info.id,
        }
        return RunOutcome("halted", halt_reason=reason, result=self._result(result))

    def _export(self, outcome: str) -> None:
        """The model bundle (export.py), once, by the writing rank; an export
        error is a warning event, never the run's outcome."""
        if self.strategy.collective.rank != 0:
            return
        state = self.state
        end = RunEnd(
            self.run_id, outcome, state.step, state.epoch, dict(self.metrics.latest)
        )
        export_model(
            self.parts,
            self.spec,
            end,
            self.out_dir / BUNDLE_DIR,
            self.tm,
            self.hooks.on_artifact,
            val_batch=self.opt.val_batch,
        )

    def _result(self, extra: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "steps": self.state.step,
            "epochs": self.state.epoch,
            "metrics": dict(self.metrics.latest),
            "train_flops": self.state.train_flops,
        }
        result.update(self.parts.report())
        result["cuda_graphs"] = self.graphs.report()
        result.update(extra)
        return result
