"""Tolaria: the training loop and its safety (checkpoints, rollback, emergency).

Per optimizer step: commands at the boundary, forward/backward over micro-batches
(halt checked between them and right before the update), optimizer step, seed
hooks, policy, telemetry. Per epoch: validation, validation gates, checkpoint.
The runner calls `run()` on its main thread and `progress()` from another.
The loop and one step live here; setup, step-boundary control, epoch end,
recovery and the per-step metrics are in setup.py, control.py, epoch_end.py,
recovery.py and step_metrics.py (base classes working on this class's state).
"""

import contextlib
import time
from collections import deque
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from api_schemas.runs import RunCreate
from workers.engine.batches import HostBatches
from workers.engine.blueprints import BlueprintCache
from workers.engine.control import Control
from workers.engine.emergency import Level
from workers.engine.epoch_end import EpochEnd
from workers.engine.hooks import CheckpointInfo, Hooks, Progress, RunOutcome
from workers.engine.options import EngineOptions
from workers.engine.policy.tamiyo import Tamiyo
from workers.engine.recovery import Recovery
from workers.engine.runtime import (  # noqa: F401  (re-exported for callers)
    _bf16_ok,
    _describe,
    _resolve_device,
    compile_host,
    compile_requested,
    device_broken,
    grad_norm,
    grad_norm_tensor,
)
from workers.engine.seeds.manager import SeedManager
from workers.engine.setup import Setup
from workers.engine.step_metrics import StepMetrics
from workers.engine.telemetry import Telemetry

METRIC_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "step_time_ms")


class HaltObserved(Exception):
    """Raised inside a step when the halt flag is seen; no update happens."""


class Trainer(Setup, Control, EpochEnd, Recovery, StepMetrics):
    # Distributed hook (workers/engine/distributed.py): the seed manager's class.
    seed_manager_cls: type[SeedManager] = SeedManager

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
    ) -> None:
        self.spec = spec
        self.hooks = hooks
        self.run_id = run_id
        self.checkpoint_dir = Path(checkpoint_dir)
        self.device_name = device
        self.resume_from = resume_from
        self.opt = options or EngineOptions()
        self.tm = Telemetry(hooks.emit)
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.paused = False
        self.stop_requested = False
        self.halt_seen_step: int | None = None
        self.auto_halt_reason: str | None = None
        self.steps_since_halt = 0
        self.metrics: dict[str, float | None] = dict.fromkeys(METRIC_KEYS)
        self._seed_view: list[dict[str, Any]] = []
        self._seed_counts: dict[str, int] = {}
        self.seeds: SeedManager | None = None
        self.cache: BlueprintCache | None = None
        self.tamiyo: Tamiyo | None = None
        self.last_checkpoint: CheckpointInfo | None = None
        # The newest per-step training losses (tests, benchmarks), bounded so a
        # long run does not grow it without end.
        self.losses: list[float] = []
        self._pending: list[tuple[int, Tensor, Any, int, float]] = []
        self._deferred: list[tuple[int, str, Tensor]] = []  # CUDA: read at flush
        self._in_flight: deque[Any] = deque()  # CUDA: events of queued steps

    # ---- the runner's interface --------------------------------------------------

    def progress(self) -> Progress:
        """Cheap, thread-safe snapshot: copies of small dicts/lists only."""
        return Progress(
            step=self.step,
            epoch=self.epoch,
            metrics=dict(self.metrics),
            seed_counts=dict(self._seed_counts),
            seeds=list(self._seed_view),
            paused=self.paused,
        )

    def run(self) -> RunOutcome:
        try:
            self._setup()
            return self._train()
        except Exception as exc:  # the runner reports it; the worker lives on
            result: dict[str, Any] = {"last_step": self.step}
            if device_broken(exc):  # the worker must exit for its supervisor
                result["device_broken"] = True
            return RunOutcome("failed", error=_describe(exc), result=result)
        finally:
            self._close()

    def _elapsed_ms(self, started: float, what: str) -> float:
        # Distributed hook: there every rank must act on the same figure.
        return (time.perf_counter() - started) * 1000.0

    # ---- the loop -----------------------------------------------------------------

    def _train(self) -> RunOutcome:
        self.tm.state("running")
        while self.epoch < self.spec.epochs and not self._max_steps_reached():
            outcome = self._run_epoch()
            if outcome is not None:
                return outcome
        return self._finish("completed")

    def _max_steps_reached(self) -> bool:
        return self.spec.max_steps is not None and self.step >= self.spec.max_steps

    def _epoch_batches(self) -> list[Tensor]:
        if self.batch_in_epoch == 0:
            self.epoch_gen_state = self.data_gen.get_state()
        else:  # resuming mid-epoch: replay the same permutation
            self.data_gen.set_state(self.epoch_gen_state)
        n = self.task.train_x.shape[0]
        order = torch.randperm(n, generator=self.data_gen)
        if self.task.resident:
            return list(order.to(self.device).split(self.spec.batch_size))
        # Host data: the indices stay on the host, where the feeder gathers.
        batches = list(order.split(self.spec.batch_size))
        self.feeder = HostBatches(
            self.task.train_x, self.task.train_y, batches, self.device
        )
        return batches

    def _run_epoch(self) -> RunOutcome | None:
        batches = self._epoch_batches()
        started, samples = time.perf_counter(), 0
        for index in range(self.batch_in_epoch, len(batches)):
            outcome = self._boundary()
            if outcome is not None:
                return outcome
            if not self._train_step(batches[index]):
                return self._halt()
            samples += batches[index].numel()
            self.batch_in_epoch = index + 1
            if self.opt_checkpoint_due():
                self._checkpoint_soon()
            if self._max_steps_reached():
                break
        self._flush_pending()
        self.epoch += 1
        self.batch_in_epoch = 0
        self.tm.epoch = self.epoch
        self._end_epoch(samples / max(time.perf_counter() - started, 1e-9))
        return None

    def opt_checkpoint_due(self) -> bool:
        every = self.spec.checkpoint_every
        return every > 0 and self.step % every == 0

    # ---- one optimizer step ------------------------------------------------------

    def _train_step(self, index: Tensor) -> bool:
        """One optimizer step; False when a halt was observed (no update made)."""
        started = time.perf_counter()
        if self.task.resident:
            x, y = self.task.train_x[index], self.task.train_y[index]
        else:  # pinned, copied ahead on a side stream (workers/engine/batches.py)
            x, y = self.feeder.take(index)
        assert self.seeds is not None
        self.seeds.before_forward(self.step + 1)
        try:
            loss_sum, correct = self._forward_backward(x, y)
        except HaltObserved:
            return False
        self.seeds.after_backward(self.step + 1)
        loss_value = None
        if not self.cuda:
            loss_value = float(loss_sum)
            if self._loss_trouble(loss_value):
                return not self.hooks.halt.is_set()
        if self.hooks.halt.is_set():  # the last moment before an update
            self._see_halt()
            return False
        self.optimizer.step()
        if self.cuda:
            self._bound_run_ahead()
        self.step += 1
        self.tm.step = self.step
        self._after_step(x, y, loss_sum, correct, loss_value, started)
        return True

    def _bound_run_ahead(self) -> None:
        """CUDA: let the host queue at most `max_ahead_steps` steps ahead of
        the device. Waiting on the event of a step already queued behind
        another never idles the device, yet it keeps an operator's halt (or
        any command) within that many updates of the device's own progress."""
        event = torch.cuda.Event()
        event.record()
        self._in_flight.append(event)
        if len(self._in_flight) > self.opt.max_ahead_steps:
            self._in_flight.popleft().synchronize()

    def _forward_backward(
        self, x: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor | int | None]:
        """Gradients of the batch mean loss; returns (mean loss, correct count)
        as device tensors, so nothing here waits for the device. The count is
        None on the steps that take no accuracy reading."""
        self.optimizer.zero_grad(set_to_none=True)
        measure = self._accuracy_due()
        parts = self.spec.micro_batches
        if parts == 1:  # the common case, with no extra tensor ops
            self._check_halt()
            loss, logits = self._loss(x, y)
            loss.backward()
            return loss.detach(), self._correct(logits, y) if measure else None
        loss_sum = torch.zeros((), device=self.device)
        correct: Tensor | int | None = 0 if measure else None
        for xb, yb in zip(x.chunk(parts), y.chunk(parts), strict=True):
            self._check_halt()
            loss, logits = self._loss(xb, yb)
            (loss * (xb.shape[0] / x.shape[0])).backward()
            loss_sum = loss_sum + loss.detach().float() * xb.shape[0]
            if correct is not None:
                correct = correct + self._correct(logits, yb)
        return loss_sum / x.shape[0], correct

    def _accuracy_due(self) -> bool:
        """Whether the step about to run takes a training-accuracy reading."""
        return (self.step + 1) % self.opt.accuracy_every == 0

    def _correct(self, logits: Tensor, y: Tensor) -> Tensor | int:
        if self.cuda:
            return (logits.detach().argmax(dim=1) == y).sum()
        # On CPU, numpy on the zero-copy views skips three dispatches to torch's
        # thread pool, which cost more than the arithmetic for a small batch.
        hits = logits.detach().numpy().argmax(axis=1) == y.numpy()
        return int(hits.sum())

    def _check_halt(self) -> None:
        if self.hooks.halt.is_set():
            self._see_halt()
            raise HaltObserved

    def _loss(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        if not self.autocast:
            logits = self.model(x)
            return self.loss_fn(logits, y), logits
        with torch.autocast("cuda", torch.bfloat16):
            logits = self.model(x)
            return self.loss_fn(logits, y).float(), logits

    def _autocast(self) -> Any:
        if self.autocast:
            return torch.autocast("cuda", torch.bfloat16)
        return contextlib.nullcontext()

    def _after_step(
        self,
        x: Tensor,
        y: Tensor,
        loss_sum: Tensor,
        correct: Tensor | int | None,
        loss_value: float | None,
        started: float,
    ) -> None:
        assert self.seeds is not None
        step_ms = self._elapsed_ms(started, "step")
        # On CUDA the seeds get the loss as a device tensor; they read their
        # signals back only when a gate decides (one sync per decision).
        host_loss = loss_sum if loss_value is None else loss_value
        self.seeds.after_step(self.step, host_loss, step_ms)
        if self.seeds.wants_probe(self.step):
            with self._autocast():
                self.seeds.probe(self.model, x, y, self.loss_fn, host_loss)
        if loss_value is not None:  # CPU: the loss is already on the host
            acc = None if correct is None else int(correct) / x.shape[0]
            self._emit_step(self.step, loss_value, acc, step_ms)
        else:
            self._pending.append((self.step, loss_sum, correct, x.shape[0], step_ms))
            if len(self._pending) >= self.sync_every:
                self._flush_pending()
        if self.tamiyo is not None:
            self.tamiyo.step(
                self.step,
                self.epoch,
                # CUDA: the newest loss read back (at most sync_every old)
                loss_value if loss_value is not None else self.metrics["loss"],
                self.ladder.loss_ewma,
                {
                    "accuracy": self.metrics["accuracy"],
                    "val_loss": self.metrics["val_loss"],
                    "step_ms": step_ms,
                },
            )
        self._periodic()

    def _periodic(self) -> None:
        step, opt = self.step, self.opt
        assert self.seeds is not None
        if step % opt.grad_norm_every == 0:
            self._emit_grad_norm()
        if self.seeds.active and step % opt.seed_telemetry_every == 0:
            self.seeds.emit_seed_packets()
        if step % opt.snapshot_every == 0:
            self._snapshot(good=self.ladder.level <= Level.NOTICE)
        if self.ladder.calm(step):
            self.tm.metric("tolaria.emergency.level", 0.0)

    def _close(self) -> None:
        self._close_checkpoints()
        if self.tamiyo is not None:
            self.tamiyo.close(
                self.step, self.ladder.loss_ewma if hasattr(self, "ladder") else None
            )
        if self.cache is not None:
            self.cache.close()
        if getattr(self, "cuda", False):
            # Hand cached blocks back (after an OOM above all) so the next run
            # on this worker starts with the device's memory free.
            self._pending, self._deferred = [], []
            self._in_flight.clear()
            torch.cuda.empty_cache()
