"""Tolaria: the training loop and its safety (checkpoints, rollback, emergency).

Per optimizer step: commands at the boundary, forward/backward over micro-batches
(halt checked between them and right before the update), optimizer step, seed
hooks, policy, telemetry. Per epoch: validation, validation gates, checkpoint.
The runner calls `run()` on its main thread and `progress()` from another.
"""

import contextlib
import math
import random
import time
from collections import deque
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from api_schemas.runs import RunCreate
from workers.engine import checkpoints as ckpt
from workers.engine.batches import HostBatches
from workers.engine.blueprints import BlueprintCache
from workers.engine.commands import apply_command
from workers.engine.emergency import EmergencyLadder, Level
from workers.engine.hooks import CheckpointInfo, Hooks, Progress, RunOutcome
from workers.engine.options import EngineOptions
from workers.engine.policy.tamiyo import Tamiyo
from workers.engine.recovery import Recovery
from workers.engine.rollback import FastRollbackCache
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
from workers.engine.seeds.gates import GateConfig
from workers.engine.seeds.manager import SeedManager
from workers.engine.seeds.ownership import HOST
from workers.engine.seeds.slot import find_slots
from workers.engine.tasks import Task, load_task
from workers.engine.telemetry import Telemetry

METRIC_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "step_time_ms")
LOSS_HISTORY = 100_000  # steps of `Trainer.losses` kept (at least)


class HaltObserved(Exception):
    """Raised inside a step when the halt flag is seen; no update happens."""


class Trainer(Recovery):
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

    # ---- setup --------------------------------------------------------------------

    def _setup(self) -> None:
        self.device = _resolve_device(self.device_name)
        spec = self.spec
        torch.manual_seed(spec.seed)
        random.seed(spec.seed)
        self.task: Task = load_task(spec.task, spec.model, spec.seed, self.device)
        self.model = self.task.host
        self.model.train()
        self.loss_fn = self.task.loss_fn
        self.cuda = self.device.type == "cuda"
        self.sync_every = self.opt.sync_every_cuda if self.cuda else 1
        self.autocast = self.cuda and self.opt.mixed_precision and _bf16_ok(self.device)
        self.compiled = compile_requested(spec.model.options)
        if self.compiled:
            compile_host(self.model, self.opt.compile_backend)
        self._setup_seeds()
        if self.tamiyo is not None:  # the policy decides on a current loss EWMA
            self.sync_every = min(self.sync_every, self.tamiyo.every)
        self.optimizer = self._new_optimizer()
        assert self.seeds is not None
        self.seeds.optimizer = self.optimizer
        self.ladder = EmergencyLadder()
        self.snapshots = FastRollbackCache(self.opt.rollback_cache_mb)
        self.data_gen = torch.Generator().manual_seed(spec.seed)
        self.epoch_gen_state = self.data_gen.get_state()
        if self.resume_from:
            self._restore(ckpt.load_checkpoint(self.resume_from, self.device), True)
            self.tm.event("tolaria.resumed", "info", {"from": self.resume_from})
        self._snapshot(good=True)

    def _setup_seeds(self) -> None:
        morph = self.spec.morphogenesis
        host_params = sum(p.numel() for p in self.model.parameters())
        self.cache = BlueprintCache(
            build_delay_s=self.opt.build_delay_s, base_seed=self.spec.seed
        )
        self.seeds = self.seed_manager_cls(
            find_slots(self.model),
            config=GateConfig.from_overrides(morph.gates),
            cache=self.cache,
            device=str(self.device),
            telemetry=self.tm,
            blend_mode=morph.blend_mode,
            blend_steps=morph.blend_steps,
            host_params=host_params,
            allowed=morph.blueprints,
        )
        self.seeds.on_change = self._refresh_seed_view
        self._refresh_seed_view()
        if morph.enabled and morph.max_seeds > 0:
            self.tamiyo = self._make_tamiyo()
            if self.tamiyo is not None:
                self.tamiyo.prefetch()

    def _make_tamiyo(self) -> Tamiyo | None:
        # Distributed hook: rank 0 defers decisions for broadcast, others get none.
        assert self.seeds is not None
        return Tamiyo(
            self.spec.morphogenesis,
            self.seeds,
            self.tm,
            self.checkpoint_dir / "field_reports.jsonl",
            every=self.opt.policy_every,
        )

    def _elapsed_ms(self, started: float, what: str) -> float:
        # Distributed hook: there every rank must act on the same figure.
        return (time.perf_counter() - started) * 1000.0

    def _new_optimizer(self) -> torch.optim.Optimizer:
        assert self.seeds is not None
        seed_groups = self.seeds.seed_groups()
        seed_ids = {id(p) for _, params in seed_groups for p in params}
        host = [
            p
            for p in self.model.parameters()
            if p.requires_grad and id(p) not in seed_ids
        ]
        groups: list[dict[str, Any]] = [{"params": host, "owner": HOST}]
        groups += [{"params": params, "owner": owner} for owner, params in seed_groups]
        optimizer = torch.optim.Adam(groups, lr=self.spec.learning_rate)
        return optimizer

    def _refresh_seed_view(self) -> None:
        assert self.seeds is not None
        self._seed_view = self.seeds.views()
        self._seed_counts = self.seeds.stage_counts()

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

    def _forward_backward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | int]:
        """Gradients of the batch mean loss; returns (mean loss, correct count)
        as device tensors, so nothing here waits for the device."""
        self.optimizer.zero_grad(set_to_none=True)
        parts = self.spec.micro_batches
        if parts == 1:  # the common case, with no extra tensor ops
            self._check_halt()
            loss, logits = self._loss(x, y)
            loss.backward()
            return loss.detach(), self._correct(logits, y)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        for xb, yb in zip(x.chunk(parts), y.chunk(parts), strict=True):
            self._check_halt()
            loss, logits = self._loss(xb, yb)
            (loss * (xb.shape[0] / x.shape[0])).backward()
            loss_sum = loss_sum + loss.detach().float() * xb.shape[0]
            correct = correct + self._correct(logits, yb)
        return loss_sum / x.shape[0], correct

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
        correct: Tensor | int,
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
            self._emit_step(self.step, loss_value, int(correct) / x.shape[0], step_ms)
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

    def _flush_pending(self) -> None:
        """Emit per-step metrics; on CUDA this is the one sync per N steps."""
        pending, self._pending = self._pending, []
        deferred, self._deferred = self._deferred, []
        if not pending and not deferred:
            return
        scalars = [t for p in pending for t in (p[1], p[2])]
        scalars += [d[2] for d in deferred]
        values = torch.stack([t.float() for t in scalars]).tolist()
        for i, (step, name, _) in enumerate(deferred):
            self.tm.metric(name, values[2 * len(pending) + i], step=step)
        for i, (step, _, _, n, step_ms) in enumerate(pending):
            loss = values[2 * i]
            self._emit_step(step, loss, values[2 * i + 1] / n, step_ms)
            self._loss_trouble(loss)

    def _emit_step(self, step: int, loss: float, acc: float, step_ms: float) -> None:
        self.losses.append(loss)
        if len(self.losses) > 2 * LOSS_HISTORY:
            del self.losses[:-LOSS_HISTORY]
        self.tm.step_metrics(
            step,
            (
                ("tolaria.training.loss", loss),
                ("tolaria.training.accuracy", acc),
                ("tolaria.step.latency_ms", step_ms),
            ),
        )
        metrics = self.metrics
        metrics["loss"], metrics["accuracy"], metrics["step_time_ms"] = (
            loss,
            acc,
            step_ms,
        )

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

    def _emit_grad_norm(self) -> None:
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not grads:
            return
        norm = grad_norm_tensor(grads)
        if self.cuda:  # read back with the next batch of losses, not now
            self._deferred.append((self.step, "tolaria.grad_norm", norm))
        else:
            self.tm.metric("tolaria.grad_norm", float(norm))

    # ---- step boundary: commands, pause, halt ---------------------------------

    def _boundary(self) -> RunOutcome | None:
        if self.hooks.halt.is_set():
            self._see_halt()
            return self._halt()
        self._drain_commands()
        if self.paused:
            self._wait_while_paused()
        if self.hooks.halt.is_set():
            self._see_halt()
            return self._halt()
        if self.stop_requested:
            return self._finish("cancelled")
        return None

    def _drain_commands(self) -> None:
        while (command := self.hooks.next_command()) is not None:
            try:
                state, reason, result = apply_command(self, command)
            except Exception as exc:  # a broken command must not kill the run
                state, reason, result = "rejected", _describe(exc), {}
            if state == "rejected":
                self.tm.event(
                    "kasmina.command_rejected",
                    "warning",
                    {"command_id": command.id, "type": command.type, "reason": reason},
                )
            self.hooks.ack(command.id, state, reason, result)
            if self.paused and command.type == "pause" and state == "applied":
                return  # enter the pause now; later commands are read while paused

    def _wait_while_paused(self) -> None:
        self._flush_pending()
        self.hooks.on_state("paused", {"step": self.step})
        self.tm.state("paused")
        while self.paused and not self.stop_requested and not self.hooks.halt.is_set():
            time.sleep(self.opt.pause_poll_s)
            self._drain_commands()
        if not self.paused:
            self.hooks.on_state("running", {"step": self.step})
            self.tm.state("running")

    def _see_halt(self) -> None:
        if self.halt_seen_step is None:
            self.halt_seen_step = self.step

    def _halt(self) -> RunOutcome:
        """L4: no more updates; write a checkpoint and report halted."""
        self._see_halt()
        self._flush_pending()
        reason = str(
            self.hooks.halt_info.get("reason")
            or self.auto_halt_reason
            or "emergency_halt"
        )
        self.ladder.level = Level.HALT
        self.tm.metric("tolaria.emergency.level", float(Level.HALT))
        self.tm.count("tolaria.emergency.halts_total")
        self.tm.event(
            "tolaria.emergency.halt", "critical", {"reason": reason, "step": self.step}
        )
        info = self._checkpoint(good=False)
        seen = self.halt_seen_step if self.halt_seen_step is not None else self.step
        return RunOutcome(
            "halted",
            halt_reason=reason,
            result=self._result(
                {
                    "steps_after_halt": self.step - seen,
                    "last_step": self.step,
                    "halt_observed_step": seen,
                    "checkpoint_id": info.id,
                }
            ),
        )

    # ---- emergencies and rollback ------------------------------------------------

    def _loss_trouble(self, loss: float) -> bool:
        """Classify a loss; act on the ladder. True when the step must not count."""
        verdict = self.ladder.classify_loss(self.step, loss)
        if verdict is None:
            return False
        level, reason = verdict
        self._escalate(level, reason)
        return level >= Level.ELEVATED

    def _escalate(self, level: Level, reason: str) -> None:
        self.ladder.level = max(self.ladder.level, level)
        severity = "critical" if level >= Level.CONSERVATIVE else "warning"
        self.tm.metric("tolaria.emergency.level", float(level))
        self.tm.event(
            "tolaria.emergency.escalated",
            severity,
            {"level": int(level), "name": level.name, "reason": reason},
        )
        if level >= Level.HALT:
            self.auto_halt_reason = f"L4 emergency: {reason}"
            self.hooks.halt_info.setdefault("reason", self.auto_halt_reason)
            self.hooks.halt.set()
            return
        if level >= Level.CONSERVATIVE and self.tamiyo is not None:
            self.tamiyo.risk.enter_conservative(self.step)
            self.tm.event("tamiyo.conservative_entered", "warning", {"reason": reason})
        if level >= Level.ELEVATED:
            self._emergency_rollback(reason)

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
