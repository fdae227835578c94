"""Tolaria over several ranks: the DDP strategy the trainer is given.

Every rank runs the same `Trainer` loop on its own device over its strided
shard of each global batch, with a `DDPStrategy`. Rank 0 alone talks to the
outside world (its hooks are the session's: telemetry, acks, checkpoint
events); the other ranks get silent hooks. What must be identical on every
rank is decided once and shared:

- Per step, after backward and before the optimizer update, one all-reduce on
  the control group carries the halt flag (rank 0's external halt event), a
  "something pending" flag, the step period and (on CPU) the loss and accuracy
  sums. When the flag is up, one broadcast sends rank 0's drained commands and
  reviewed policy decisions; every rank applies them at the next step boundary.
- A halt seen in that collective sets every rank's own halt event before the
  update, so no rank takes another optimizer step.
- Losses, accuracies, validation figures, probe losses, isolation samples and
  step times are all-reduced, so the emergency ladder and the gates G1-G4 see
  the same numbers on every rank and take the same decisions.
- The DDP wrapper is rebuilt whenever the model's parameter set changes (a seed
  attached or released, a rollback rebuilding seeds); construction broadcasts
  rank 0's parameters and buffers, so a new seed is identical on every rank.
- Checkpoints are written by rank 0 only and hold the plain module's state, so
  they restore on any number of ranks (or on one device).
"""

import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel as DDP

from workers.engine.forward import Correct, Forward
from workers.engine.hooks import EngineCommand, Hooks
from workers.engine.policy.base import Decision, PolicyInputs
from workers.engine.ranks import ProcessGroup, RankInfo
from workers.engine.seeds.slot import SeedSlot
from workers.engine.state import TrainState
from workers.engine.strategy import Defer, Received

# Slots of the control tensor; on CPU the loss and correct sums follow.
HALT, PENDING, PERIOD = range(3)


class DDPStrategy:
    """One rank of a DDP run; see the module docstring for what is shared."""

    def __init__(self, rank_info: RankInfo) -> None:
        self.group = ProcessGroup(rank_info)
        self.rank, self.world = rank_info.rank, rank_info.world
        self._outer = Hooks()  # the runner's hooks (bind)
        self._halt = threading.Event()  # the loop's: set only by the collective
        self._state = TrainState()  # the loop's (bind)
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

    @property
    def collective(self) -> ProcessGroup:
        return self.group

    @property
    def decides(self) -> bool:
        return self.rank == 0

    @property
    def defer(self) -> Defer | None:
        return self._defer_decision if self.rank == 0 else None

    def join(self, device_name: str) -> None:
        self.group.join(device_name)

    def leave(self) -> None:
        self._ddp = None
        self.group.leave()

    def bind(self, hooks: Hooks, state: TrainState) -> Hooks:
        """The loop's hooks: its halt event is set only by the control
        collective (or by decisions every rank takes alike), never straight
        from Redis, and its commands are those rank 0 broadcast."""
        self._outer, self._state = hooks, state
        return Hooks(
            emit=hooks.emit,
            next_command=self._next_received,
            ack=hooks.ack,
            on_state=hooks.on_state,
            on_checkpoint=hooks.on_checkpoint,
            on_artifact=hooks.on_artifact,
            fetch_checkpoint=hooks.fetch_checkpoint,
            halt=self._halt,
            halt_info=hooks.halt_info,
        )

    # ---- one step: forward/backward on the shard, then the control collective

    def forward_backward(
        self,
        fw: Forward,
        optimizer: torch.optim.Optimizer,
        x: Tensor,
        y: Tensor,
        *,
        measure: bool,
        check_halt: Callable[[], None],
    ) -> tuple[Tensor, Correct]:
        """The halt is checked in the collective after backward, not between
        micro-batches: every rank must take part in every collective."""
        self._step_t0 = time.perf_counter()
        ddp = self._wrapper(fw.model)
        optimizer.zero_grad(set_to_none=True)
        xs, ys = self.group.shard(x), self.group.shard(y)
        # Scale so DDP's average over ranks is the gradient of the global mean,
        # also when the last batch does not split evenly.
        weight = self.world / x.shape[0]
        if xs.shape[0] == 0:  # fewer samples than ranks: take part, add nothing
            xs, ys, weight = x[:1], y[:1], 0.0
        loss_sum = torch.zeros((), device=fw.device)
        correct: Tensor | int = 0
        parts = fw.micro_batches
        chunks = list(zip(xs.chunk(parts), ys.chunk(parts), strict=True))
        for index, (xb, yb) in enumerate(chunks):
            last = index == len(chunks) - 1
            with nullcontext() if last else ddp.no_sync():
                loss, logits = fw.loss(xb, yb, module=ddp)
                (loss * (xb.shape[0] * weight)).backward()
            if weight:
                loss_sum = loss_sum + loss.detach().float() * xb.shape[0]
                if measure:
                    correct = correct + fw.correct(logits, yb)
        loss_mean, hits = self._step_exchange(fw, loss_sum, correct, x.shape[0])
        return loss_mean, hits if measure else None

    def _wrapper(self, model: nn.Module) -> DDP:
        """DDP over the current parameter set, rebuilt when the set changes.

        Rebuilding (rather than hand-broadcasting seed parameters) keeps the
        gradient buckets right for any seed shape and re-syncs every parameter
        from rank 0; stage changes are rare, so the broadcast is cheap overall.
        """
        params = [p for p in model.parameters() if p.requires_grad]
        seeded = any(
            m.seed is not None for m in model.modules() if isinstance(m, SeedSlot)
        )
        key = (seeded, tuple(id(p) for p in params))
        if self._ddp is None or key != self._ddp_key:
            self._ddp = None  # drop the old reducer's hooks before the new one
            device = next(iter(params)).device if params else torch.device("cpu")
            ids = None if device.type == "cpu" else [device]
            # A germinated seed is bypassed for a step, and some blend modes
            # leave a seed parameter out: only then pay for the unused search.
            self._ddp = DDP(model, device_ids=ids, find_unused_parameters=seeded)
            self._ddp_key = key
        return self._ddp

    def _step_exchange(
        self, fw: Forward, loss_sum: Tensor, correct: Tensor | int, total: int
    ) -> tuple[Tensor, Tensor | int]:
        if not fw.cuda:  # one gloo all-reduce carries everything
            figures = self._exchange([float(loss_sum), float(correct)])
            return torch.tensor(figures[0] / total), int(round(figures[1]))
        # CUDA: the sums stay on the device (reduced on NCCL's stream, read at the
        # trainer's periodic flush); only the control flags go through gloo.
        # A step without accuracy has a plain 0: `full` fills it on the device,
        # where `as_tensor` copied it from the host and made every step wait
        # for the GPU (step time 2.2x one device's on a small CNN).
        hits = (
            correct.float()
            if isinstance(correct, Tensor)
            else torch.full((), float(correct), device=fw.device)
        )
        stats = self.group.all_reduce(torch.stack([loss_sum, hits]))
        self._exchange([])
        return stats[0] / total, stats[1]

    def _exchange(self, extra: list[float]) -> list[float]:
        """The per-step control collective; returns the reduced `extra`."""
        now = time.perf_counter()
        since = self._last_exchange if self._last_exchange else self._step_t0
        control = torch.zeros(3 + len(extra), dtype=torch.float64)
        if self.rank == 0:
            self._collect()
            control[HALT] = float(self._outer.halt.is_set())
            control[PENDING] = float(bool(self._outbox))
        control[PERIOD] = (now - since) * 1000.0
        control[3:] = torch.tensor(extra, dtype=torch.float64)
        self.group.control_reduce(control)
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
        while (command := self._outer.next_command()) is not None:
            self._outbox.append(("command", command))

    def _receive(self) -> None:
        payload = self.group.broadcast(self._outbox if self.rank == 0 else None)
        self._outbox = []
        for item in payload or []:
            if item[0] == "command":
                self._commands.append(item[1])
            else:
                self._decisions.append((item[1], item[2]))

    def _observe_halt(self) -> None:
        if not self._halt.is_set():
            self.halt_observed_at = time.perf_counter()
            self._outer.halt_info.setdefault("reason", "emergency_halt")
            self._halt.set()

    def elapsed_ms(self, started: float, what: str) -> float:
        if what == "step":
            return self._agreed_step_ms
        elapsed = torch.tensor([(time.perf_counter() - started) * 1000.0])
        return float(self.group.control_reduce(elapsed, "max"))

    # ---- the step boundary: apply what the last collective delivered --------

    def boundary(self, paused: bool) -> list[Received]:
        if paused:  # the step loop is idle: keep the collective going
            self._exchange([])
            self._last_exchange = None  # the pause is not part of a step period
        decisions, self._decisions = self._decisions, []
        received: list[Received] = []
        for token, decision in decisions:
            detail = str(decision.slot or decision.seed_id)
            self.applied.append((self._state.step, f"policy:{decision.action}", detail))
            received.append((decision, self._contexts.pop(token, None)))
        return received

    def _next_received(self) -> EngineCommand | None:
        if not self._commands:
            return None
        command = self._commands.pop(0)
        self.applied.append((self._state.step, command.type, command.id))
        return command

    def _defer_decision(
        self, step: int, inputs: PolicyInputs, proposed: Decision, decision: Decision
    ) -> None:
        self._tokens += 1
        self._contexts[self._tokens] = (step, inputs, proposed)
        self._outbox.append(("decision", self._tokens, decision))
