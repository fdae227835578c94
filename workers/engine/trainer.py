"""Tolaria: the training loop, read top to bottom.

`run()` builds the run's parts (build.py), then trains epoch by epoch. Each
step: the boundary (commands, pause, halt), forward/backward (the strategy's:
one device or a DDP rank), the update, the seeds' hooks, the policy, the
step's metrics. Each epoch end: validation, the validation gates, a snapshot
and a checkpoint. The loop's own state is `TrainState` (state.py); the
components it calls own theirs: `StepMetrics` (step_metrics.py), `Recovery`
(snapshots, checkpoints, rollback: recovery.py), `EmergencyGuard` (the
ladder and its actions: emergency.py), `RunControl` (operator commands,
control.py), the seed manager and Tamiyo. docs/architecture.md draws it.
The runner calls `run()` on its main thread and `progress()` from another.
"""

import math
import time
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor

from api_schemas.runs import RunCreate
from workers.engine.architecture import ArchitectureReport
from workers.engine.boundary import StepBoundary
from workers.engine.build import Parts, build_parts
from workers.engine.compute import TRAIN_FLOPS, ComputeMeter
from workers.engine.control import RunControl
from workers.engine.cuda_graphs import StepGraphs
from workers.engine.emergency import EmergencyGuard, Level
from workers.engine.evaluation import evaluate
from workers.engine.forward import HaltObserved
from workers.engine.hooks import Hooks, Progress, RunOutcome
from workers.engine.options import EngineOptions
from workers.engine.profiling import PROFILE_DIR, Profiler
from workers.engine.recovery import Recovery
from workers.engine.runtime import RunAhead, describe, device_broken
from workers.engine.seeds.manager import SeedManager
from workers.engine.state import TrainState
from workers.engine.step_metrics import StepMetrics
from workers.engine.strategy import OneDevice, Strategy
from workers.engine.telemetry import Telemetry

T = TypeVar("T")


def _built(component: T | None) -> T:
    if component is None:
        raise RuntimeError("the trainer is not set up yet")
    return component


class Trainer:
    def __init__(
        self,
        spec: RunCreate,
        hooks: Hooks,
        *,
        run_id: str,
        checkpoint_dir: Path,
        device: str = "cpu",
        resume_from: str | None = None,
        options: EngineOptions | None = None,
        strategy: Strategy | None = None,
        fork: bool = False,
    ) -> None:
        self.spec = spec
        self.run_id = run_id
        self.checkpoint_dir = Path(checkpoint_dir)
        self.device_name = device
        self.resume_from = resume_from
        # resume_from is another run's checkpoint: start from its model, not
        # its position (a fork or a continuation with a new spec).
        self.fork = fork
        self.opt = options or EngineOptions()
        self.strategy: Strategy = strategy or OneDevice()
        self.state = TrainState()
        self.hooks = self.strategy.bind(hooks, self.state)
        self.tm = Telemetry(hooks.emit)
        self.compute = ComputeMeter(self.tm)  # a step's FLOPs, per architecture
        self.graphs = StepGraphs(self.tm)  # CUDA graphs of the step (opt-in)
        self.architecture = ArchitectureReport(self.tm)  # for the dashboard
        self.guard = EmergencyGuard(
            self.tm,
            self.hooks,
            rollback=lambda reason: self.rollback(None, reason),
            conservative=self._policy_conservative,
        )
        self.metrics = StepMetrics(
            self.tm,
            deferred=False,  # set at setup, once the device is known
            sync_every=1,
            on_loss=lambda loss: self.guard.judge_loss(self.state.step, loss),
        )
        self._parts: Parts | None = None  # built by _setup
        self._recovery: Recovery | None = None
        self._control: RunControl | None = None
        self._boundary: StepBoundary | None = None  # commands, pause, the end
        self.run_ahead = RunAhead(self.opt.max_ahead_steps)  # CUDA only
        # torch.profiler over the next steps, on command (profiling.py)
        self.profiler = Profiler(
            self.tm, self.hooks.on_artifact, self.checkpoint_dir / PROFILE_DIR
        )

    # The components `_setup` builds (the run's device and model come first).
    @property
    def parts(self) -> Parts:
        return _built(self._parts)

    @property
    def recovery(self) -> Recovery:
        return _built(self._recovery)

    @property
    def control(self) -> RunControl:
        return _built(self._control)

    @property
    def boundary(self) -> StepBoundary:
        return _built(self._boundary)

    # ---- the runner's interface ---------------------------------------------

    def progress(self) -> Progress:
        """Cheap, thread-safe snapshot (state.py)."""
        return self.state.progress(self.metrics.latest)

    def run(self) -> RunOutcome:
        try:
            self._setup()
            return self._train()
        except Exception as exc:  # the runner reports it; the worker lives on
            result: dict[str, Any] = {"last_step": self.state.step}
            if device_broken(exc):  # the worker must exit for its supervisor
                result["device_broken"] = True
            return RunOutcome("failed", error=describe(exc), result=result)
        finally:
            self._close()

    # ---- setup and close -----------------------------------------------------

    def _setup(self) -> None:
        self.strategy.join(self.device_name)
        parts = build_parts(
            self.spec,
            self.opt,
            device_name=self.device_name,
            telemetry=self.tm,
            strategy=self.strategy,
            report_path=self.checkpoint_dir / "field_reports.jsonl",
            on_seed_change=self._refresh_seed_view,
        )
        self._parts = parts
        self.graphs.bind_run(self.spec, parts, self.strategy)
        self.metrics.read_back(deferred=parts.deferred_reads, every=parts.sync_every)
        self._recovery = Recovery(
            parts,
            self.state,
            spec=self.spec,
            opt=self.opt,
            checkpoint_dir=self.checkpoint_dir,
            telemetry=self.tm,
            hooks=self.hooks,
            guard=self.guard,
            elapsed_ms=self.strategy.elapsed_ms,
            writer=self.strategy.collective.rank == 0,
            val_accuracy=lambda: self.metrics.latest["val_accuracy"],
        )
        self._control = RunControl(
            self.state,
            self.hooks,
            self.tm,
            self.strategy,
            parts,
            self.recovery,
            self.profiler,
        )
        self._boundary = StepBoundary(
            spec=self.spec,
            run_id=self.run_id,
            out_dir=self.checkpoint_dir,
            opt=self.opt,
            state=self.state,
            hooks=self.hooks,
            telemetry=self.tm,
            strategy=self.strategy,
            parts=parts,
            control=self.control,
            recovery=self.recovery,
            guard=self.guard,
            metrics=self.metrics,
            graphs=self.graphs,
        )
        if self.resume_from:
            self.recovery.start_from(self.resume_from, fork=self.fork)
        self.recovery.snapshot(good=True)

    def _close(self) -> None:
        try:
            self._close_parts()
        finally:
            self.strategy.leave()

    def _close_parts(self) -> None:
        self.profiler.close(self.state.step)  # exports a recording cut short
        if self._recovery is not None:
            self._recovery.close()
        parts = self._parts
        if parts is None:
            return
        if parts.tamiyo is not None:
            parts.tamiyo.close(self.state.step, self.guard.ladder.loss_ewma)
        parts.cache.close()
        if parts.cuda:
            # Hand cached blocks back (after an OOM above all) so the next run
            # on this worker starts with the device's memory free.
            self.metrics.drop_pending()
            self.run_ahead.clear()
            self.graphs.close()
            torch.cuda.empty_cache()

    # ---- the loop ------------------------------------------------------------

    def _train(self) -> RunOutcome:
        self.tm.state("running")
        self.architecture.start(self.parts.model, self.state.step)
        while self.state.epoch < self.spec.epochs and not self._max_steps_reached():
            outcome = self._run_epoch()
            if outcome is not None:
                return outcome
        return self.boundary.finish("completed")

    def _max_steps_reached(self) -> bool:
        return (
            self.spec.max_steps is not None and self.state.step >= self.spec.max_steps
        )

    def _epoch_batches(self) -> list[Tensor]:
        return self.parts.data.epoch_batches(self.state.batch_in_epoch)

    def _run_epoch(self) -> RunOutcome | None:
        state = self.state
        batches = self._epoch_batches()
        started, samples = time.perf_counter(), 0
        for index in range(state.batch_in_epoch, len(batches)):
            outcome = self.boundary.check()
            if outcome is not None:
                return outcome
            self.profiler.tick(state.step)
            if not self._train_step(batches[index]):
                return self.boundary.halt()
            samples += batches[index].numel()
            state.batch_in_epoch = index + 1
            if self._checkpoint_due():
                self.recovery.checkpoint_soon(self.guard.healthy)
            if self._max_steps_reached():
                break
        self.metrics.flush()
        state.epoch += 1
        state.batch_in_epoch = 0
        self.tm.epoch = state.epoch
        self._end_epoch(samples / max(time.perf_counter() - started, 1e-9))
        return None

    def _checkpoint_due(self) -> bool:
        every = self.spec.checkpoint_every
        return every > 0 and self.state.step % every == 0

    # ---- one optimizer step --------------------------------------------------

    def _train_step(self, index: Tensor) -> bool:
        """One optimizer step; False when a halt was observed (no update made)."""
        started = time.perf_counter()
        parts, state = self.parts, self.state
        x, y = parts.data.batch(index)
        # Before the seeds' hooks, which may change what the next step runs;
        # a measurement's time is not the step's (G4 compares step times).
        flops, measuring_s = self.compute.step(parts.model, parts.seeds.slots, x)
        started += measuring_s
        parts.seeds.before_forward(state.step + 1)
        measure = (state.step + 1) % self.opt.accuracy_every == 0
        try:
            # A CUDA graph's replay is the whole step, update included.
            graphed = self.graphs.step(
                x, y, measure=measure, check_halt=self._check_halt
            )
            loss, correct = graphed or self.strategy.forward_backward(
                parts.fw,
                parts.optimizer,
                x,
                y,
                measure=measure,
                check_halt=self._check_halt,
            )
        except HaltObserved:
            return False
        parts.seeds.after_backward(state.step + 1)
        host_loss: float | Tensor = loss  # a device tensor when reads are deferred
        if not parts.deferred_reads:
            host_loss = float(loss)
            if self.guard.judge_loss(state.step, host_loss):
                return not self.hooks.halt.is_set()
        if graphed is None:  # eager: the update is still to be made
            if self.hooks.halt.is_set():  # the last moment before an update
                state.see_halt()
                return False
            parts.optimizer.step()
        if parts.cuda:
            self.run_ahead.step_queued()
        state.step += 1
        state.train_flops += flops
        self.tm.step = state.step
        self._after_step(x, y, host_loss, correct, started)
        return True

    def _check_halt(self) -> None:
        if self.hooks.halt.is_set():
            self.state.see_halt()
            raise HaltObserved

    def _after_step(
        self,
        x: Tensor,
        y: Tensor,
        loss: float | Tensor,
        correct: Tensor | int | None,
        started: float,
    ) -> None:
        parts, step = self.parts, self.state.step
        step_ms = self.strategy.elapsed_ms(started, "step")
        # With deferred reads the seeds get the loss as a device tensor; they
        # read their signals back only when a gate decides (one sync each).
        parts.seeds.after_step(step, loss, step_ms)
        if parts.seeds.wants_probe(step):
            with parts.fw.precision():
                parts.seeds.probe(parts.model, x, y, parts.fw.loss_fn, loss)
            cost = self.compute.cost(parts.model, parts.seeds.slots, x)
            self.state.train_flops += cost.probe
        self.metrics.record(step, loss, correct, x.shape[0], step_ms)
        if parts.tamiyo is not None:
            ewma = self.guard.ladder.loss_ewma
            latest = self.metrics.latest
            parts.tamiyo.after_step(step, self.state.epoch, loss, ewma, latest, step_ms)
        self._periodic()

    def _periodic(self) -> None:
        parts, step, opt = self.parts, self.state.step, self.opt
        if step % opt.grad_norm_every == 0:
            self.metrics.grad_norm(step, parts.model)
        if parts.seeds.active and step % opt.seed_telemetry_every == 0:
            parts.seeds.emit_seed_packets()
        if step % opt.snapshot_every == 0:
            self.recovery.snapshot(good=self.guard.healthy)
        self.guard.calm(step)

    # ---- epoch end -----------------------------------------------------------

    def _end_epoch(self, samples_per_s: float) -> None:
        """Validation, gates, snapshot, checkpoint. No step is in flight here,
        so pending commands are applied between the phases too: an operator's
        command need not wait for the whole epoch end (pause and stop take
        hold at the next step boundary)."""
        parts = self.parts
        self.control.drain()
        val_loss, val_acc = self.evaluate()
        self.metrics.validation(val_loss, val_acc)
        self.tm.metric("tolaria.samples_per_s", samples_per_s)
        self.tm.metric(TRAIN_FLOPS, float(self.state.train_flops))
        parts.seeds.on_epoch_end(
            val_loss,
            lambda: self.evaluate()[0],
            self.metrics.latest["step_time_ms"] or 0.0,
        )
        self.tm.metric("kasmina.seeds.active", float(parts.seeds.live_count()))
        self.architecture.epoch_end()
        if not math.isfinite(val_loss):
            self.guard.failure(
                self.state.step, Level.ELEVATED, "non-finite validation loss"
            )
        self.control.drain()
        self.recovery.snapshot(good=self.guard.healthy)
        if self.spec.checkpoint_every == 0:
            self.recovery.checkpoint_soon(self.guard.healthy)

    def evaluate(self) -> tuple[float, float]:
        """Validation loss and accuracy over the whole validation set."""
        parts = self.parts
        return evaluate(
            parts.fw, parts.task, self.opt.val_batch, self.strategy.collective
        )

    # ---- what the components call back --------------------------------------

    def rollback(self, target: str | None, reason: str) -> dict[str, Any]:
        return self.recovery.rollback(target, reason)

    def _policy_conservative(self, step: int, reason: str) -> None:
        tamiyo = self._parts.tamiyo if self._parts is not None else None
        if tamiyo is not None:
            tamiyo.risk.enter_conservative(step)
            self.tm.event("tamiyo.conservative_entered", "warning", {"reason": reason})

    def _refresh_seed_view(self, seeds: SeedManager) -> None:
        self.compute.invalidate()  # a seed moved: the next step is measured
        self.state.seed_view = seeds.views()
        self.state.seed_counts = seeds.stage_counts()
        self.architecture.changed(seeds.host_params, seeds.slots)
