"""Tolaria over several ranks: DDP plus one small control collective per step.

Every rank runs a `DistributedTrainer` on its own device over its strided shard
of each global batch. Rank 0 alone talks to the outside world (its hooks are the
session's: telemetry, acks, checkpoint events); the other ranks get silent
hooks. What must be identical on every rank is decided once and shared:

- Per step, after backward and before the optimizer update, one all-reduce
  carries the halt flag (rank 0's external halt event), a "something pending"
  flag, the step period and (on CPU) the loss and accuracy sums. When the flag
  is up, one `broadcast_object_list` sends rank 0's drained commands and
  reviewed policy decisions; every rank applies them at the next step boundary.
- A halt seen in that collective sets every rank's internal halt event before
  the update, so no rank takes another optimizer step.
- Losses, accuracies, validation figures, probe losses, isolation samples and
  step times are all-reduced, so the emergency ladder and the gates G1-G4 see
  the same numbers on every rank and take the same decisions.
- The DDP wrapper is rebuilt whenever the model's parameter set changes (a seed
  attached or released, a rollback rebuilding seeds); construction broadcasts
  rank 0's parameters and buffers, so a new seed is identical on every rank.
- Checkpoints are written by rank 0 only and hold the plain module's state, so
  they restore on any number of ranks (or on the single-device Trainer).
"""

import threading
import time
from contextlib import nullcontext
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel as DDP

from api_schemas.runs import RunCreate
from workers.engine.hooks import CheckpointInfo, EngineCommand, Hooks
from workers.engine.policy.base import Decision, PolicyInputs
from workers.engine.policy.tamiyo import Tamiyo, execute
from workers.engine.ranks import (
    BroadcastTamiyo,
    DistributedSeedManager,
    RankInfo,
    join_group,
    settle_ranks,
    shard,
)
from workers.engine.seeds.slot import SeedSlot
from workers.engine.trainer import Trainer

# Slots of the control tensor; on CPU the loss and correct sums follow.
HALT, PENDING, PERIOD, LOSS, CORRECT = range(5)


class DistributedTrainer(Trainer):
    """One rank of a DDP run; see the module docstring for what is shared."""

    seed_manager_cls = DistributedSeedManager

    def __init__(
        self, spec: RunCreate, hooks: Hooks, *, rank_info: RankInfo, **kwargs: Any
    ) -> None:
        self.rank_info = rank_info
        self.outer = hooks
        # The engine's own halt event is set only by the control collective (or
        # by decisions every rank takes alike), never straight from Redis.
        inner = Hooks(
            emit=hooks.emit,
            next_command=self._next_received,
            ack=hooks.ack,
            on_state=hooks.on_state,
            on_checkpoint=hooks.on_checkpoint,
            halt=threading.Event(),
            halt_info=hooks.halt_info,
        )
        super().__init__(spec, inner, **kwargs)
        self.rank, self.world = rank_info.rank, rank_info.world
        self._control: Any = None
        self._ddp: DDP | None = None
        self._ddp_key: tuple[Any, ...] | None = None
        self._outbox: list[Any] = []  # rank 0: what the next collective sends
        self._commands: list[EngineCommand] = []
        self._decisions: list[tuple[int, Decision]] = []
        self._contexts: dict[int, tuple[int, PolicyInputs, Decision]] = {}
        self._tokens = 0
        self._last_exchange: float | None = None
        self._step_t0 = 0.0
        self._agreed_step_ms = 0.0
        self.halt_observed_at: float | None = None
        # (step, what, detail) of everything applied; equal on every rank.
        self.applied: list[tuple[int, str, str]] = []

    # ---- setup and teardown ------------------------------------------------------

    def _setup(self) -> None:
        self._control = join_group(self.rank_info, self.device_name)
        super()._setup()
        morph = self.spec.morphogenesis
        if self.rank != 0 and self.seeds is not None and morph.enabled:
            # Same prefetch as rank 0's Tamiyo, so a broadcast germination
            # finds its module ready here too.
            self.seeds.prefetch(morph.blueprints or [])

    def _make_tamiyo(self) -> Tamiyo | None:
        if self.rank != 0:
            return None
        return self._tamiyo_of(BroadcastTamiyo, defer=self._defer_decision)

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._ddp = None
            if dist.is_initialized():
                settle_ranks()
                dist.destroy_process_group()

    # ---- the DDP wrapper ---------------------------------------------------------

    def _wrapper(self) -> DDP:
        """DDP over the current parameter set, rebuilt when the set changes.

        Rebuilding (rather than hand-broadcasting seed parameters) keeps the
        gradient buckets right for any seed shape and re-syncs every parameter
        from rank 0; stage changes are rare, so the broadcast is cheap overall.
        """
        params = [p for p in self.model.parameters() if p.requires_grad]
        seeded = any(s.seed is not None for s in self._slots())
        key = (seeded, tuple(id(p) for p in params))
        if self._ddp is None or key != self._ddp_key:
            self._ddp = None  # drop the old reducer's hooks before the new one
            ids = None if self.device.type == "cpu" else [self.device]
            # A germinated seed is bypassed for a step, and some blend modes
            # leave a seed parameter out: only then pay for the unused search.
            self._ddp = DDP(self.model, device_ids=ids, find_unused_parameters=seeded)
            self._ddp_key = key
        return self._ddp

    def _slots(self) -> list[SeedSlot]:
        return list(self.seeds.slots.values()) if self.seeds is not None else []

    # ---- one step: forward/backward on the shard, then the control collective ---

    def _forward_backward(
        self, x: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor | int | None]:
        self._step_t0 = time.perf_counter()
        measure = self._accuracy_due()
        ddp = self._wrapper()
        self.optimizer.zero_grad(set_to_none=True)
        xs, ys = shard(x, self.rank, self.world), shard(y, self.rank, self.world)
        # Scale so DDP's average over ranks is the gradient of the global mean,
        # also when the last batch does not split evenly.
        weight = self.world / x.shape[0]
        if xs.shape[0] == 0:  # fewer samples than ranks: take part, add nothing
            xs, ys, weight = x[:1], y[:1], 0.0
        loss_sum = torch.zeros((), device=self.device)
        correct: Tensor | int = 0
        chunks = list(
            zip(
                xs.chunk(self.spec.micro_batches),
                ys.chunk(self.spec.micro_batches),
                strict=True,
            )
        )
        for index, (xb, yb) in enumerate(chunks):
            last = index == len(chunks) - 1
            with nullcontext() if last else ddp.no_sync():
                loss, logits = self._loss(xb, yb)
                (loss * (xb.shape[0] * weight)).backward()
            if weight:
                loss_sum = loss_sum + loss.detach().float() * xb.shape[0]
                if measure:
                    correct = correct + self._correct(logits, yb)
        loss_mean, hits = self._step_exchange(loss_sum, correct, x.shape[0])
        return loss_mean, hits if measure else None

    def _loss(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        model = self._ddp if self._ddp is not None else self.model
        if not self.autocast:
            logits = model(x)
            return self.loss_fn(logits, y), logits
        with torch.autocast("cuda", torch.bfloat16):
            logits = model(x)
            return self.loss_fn(logits, y).float(), logits

    def _step_exchange(
        self, loss_sum: Tensor, correct: Tensor | int, total: int
    ) -> tuple[Tensor, Tensor | int]:
        if not self.cuda:  # one gloo all-reduce carries everything
            figures = self._exchange([float(loss_sum), float(correct)])
            return torch.tensor(figures[0] / total), int(round(figures[1]))
        # CUDA: the sums stay on the device (reduced on NCCL's stream, read at the
        # trainer's periodic flush); only the control flags go through gloo.
        # A step without accuracy has a plain 0: `full` fills it on the device,
        # where `as_tensor` copied it from the host and made every step wait
        # for the GPU (step time 2.2x one device's on a small CNN).
        hits = (correct.float() if isinstance(correct, Tensor)
                else torch.full((), float(correct), device=self.device))
        stats = torch.stack([loss_sum, hits])
        dist.all_reduce(stats)
        self._exchange([])
        return stats[0] / total, stats[1]

    def _exchange(self, extra: list[float]) -> list[float]:
        """The per-step control collective; returns the reduced `extra`."""
        now = time.perf_counter()
        since = self._last_exchange if self._last_exchange else self._step_t0
        control = torch.zeros(3 + len(extra), dtype=torch.float64)
        if self.rank == 0:
            self._collect()
            control[HALT] = float(self.outer.halt.is_set())
            control[PENDING] = float(bool(self._outbox))
        control[PERIOD] = (now - since) * 1000.0
        control[3:] = torch.tensor(extra, dtype=torch.float64)
        dist.all_reduce(control, group=self._control)
        self._last_exchange = time.perf_counter()
        values = control.tolist()
        self._agreed_step_ms = values[PERIOD] / self.world
        if values[HALT] > 0:
            self._observe_halt()
        if values[PENDING] > 0:
            self._receive()
        return values[3:]

    def _collect(self) -> None:
        """Rank 0: drain the session's command queue into the outbox."""
        while (command := self.outer.next_command()) is not None:
            self._outbox.append(("command", command))

    def _receive(self) -> None:
        payload = [self._outbox if self.rank == 0 else None]
        dist.broadcast_object_list(payload, src=0, group=self._control)
        self._outbox = []
        for item in payload[0] or []:
            if item[0] == "command":
                self._commands.append(item[1])
            else:
                self._decisions.append((item[1], item[2]))

    def _observe_halt(self) -> None:
        if not self.hooks.halt.is_set():
            self.halt_observed_at = time.perf_counter()
            self.hooks.halt_info.setdefault("reason", "emergency_halt")
            self.hooks.halt.set()
        self._see_halt()

    def _elapsed_ms(self, started: float, what: str) -> float:
        if what == "step":
            return self._agreed_step_ms
        elapsed = torch.tensor([(time.perf_counter() - started) * 1000.0])
        dist.all_reduce(elapsed, op=dist.ReduceOp.MAX, group=self._control)
        return float(elapsed)

    # ---- the step boundary: apply what the last collective delivered ------------

    def _drain_commands(self) -> None:
        if self.paused:  # the step loop is idle: keep the collective going
            self._exchange([])
            self._last_exchange = None  # the pause is not part of a step period
        self._apply_decisions()
        super()._drain_commands()

    def _next_received(self) -> EngineCommand | None:
        if not self._commands:
            return None
        command = self._commands.pop(0)
        self.applied.append((self.step, command.type, command.id))
        return command

    def _defer_decision(
        self, step: int, inputs: PolicyInputs, proposed: Decision, decision: Decision
    ) -> None:
        self._tokens += 1
        self._contexts[self._tokens] = (step, inputs, proposed)
        self._outbox.append(("decision", self._tokens, decision))

    def _apply_decisions(self) -> None:
        decisions, self._decisions = self._decisions, []
        for token, decision in decisions:
            self.applied.append(
                (
                    self.step,
                    f"policy:{decision.action}",
                    str(decision.slot or decision.seed_id),
                )
            )
            context = self._contexts.pop(token, None)
            if self.tamiyo is not None and context is not None:
                step, inputs, proposed = context
                self.tamiyo.carry_out(step, inputs, proposed, decision)
            else:
                assert self.seeds is not None
                execute(self.seeds, decision)

    # ---- validation and checkpoints -------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """Validation over the ranks' shards of the validation set, all-reduced."""
        self.model.eval()
        try:
            x = shard(self.task.val_x, self.rank, self.world)
            y = shard(self.task.val_y, self.rank, self.world)
            sums = torch.zeros(3, device=self.device, dtype=torch.float64)
            for start in range(0, x.shape[0], self.opt.val_batch):
                logits = self.model(x[start : start + self.opt.val_batch])
                yb = y[start : start + self.opt.val_batch]
                sums[0] += self.loss_fn(logits, yb).double() * yb.shape[0]
                sums[1] += (logits.argmax(dim=1) == yb).sum()
            sums[2] = x.shape[0]
            dist.all_reduce(sums)
            loss, correct, n = sums.tolist()
            return loss / max(1.0, n), correct / max(1.0, n)
        finally:
            self.model.train()

    def _checkpoint_soon(self, good: bool = True) -> None:
        if self.rank == 0:
            super()._checkpoint_soon(good)
        else:
            self._checkpoint(good)

    def _checkpoint(self, good: bool = True) -> CheckpointInfo:
        if self.rank == 0:
            return super()._checkpoint(good)
        # Written once, by rank 0; the id is the one rank 0 gives it.
        ckpt_id = f"ckpt-{self.step:09d}"
        info = CheckpointInfo(
            ckpt_id, str(self.checkpoint_dir / ckpt_id), self.step, self.epoch, 0, good
        )
        self.last_checkpoint = info
        return info
