"""CUDA graph capture of the training step (opt-in: `model.options.cuda_graphs`).

On a small model the host, not the device, sets the pace: each step launches a
few hundred kernels, each costing microseconds of Python and driver time. A
CUDA graph records the step once (zero_grad, forward, loss, backward and the
optimizer's update, the very code of the eager step) and replays it with one
launch.

How the trainer uses it (`StepGraphs.step`, called where the eager
forward/backward would run): it returns the step's (loss, correct) when a
graph (or its warm-up) made the whole step, update included, or None when the
trainer must run the step eagerly. Each architecture (the slots' seeds and
stages, the optimizer, its groups and learning rates; compute.py keys its
FLOPs the same way) gets `warmup` eager steps of the same function on a side
stream (they initialise the optimizer's state of new parameters and the
libraries' workspaces), then one capture, then replays. A changed key (a seed
germinated, attached, culled or fossilised, a stage change, a rollback's
restore) drops the graph; the next capture reuses its memory pool
(`torch.cuda.graph_pool_handle()`), one pool for the whole run.

What stays eager, and why: graph_plan.py, with the decisions (the capture
plan, the architecture key, the reasons a run cannot be captured).

What the graph keeps as the eager step had it: the seeds' isolation (the
captured forward is the slot's; a TRAINING slot's isolation sample is taken in
every replay and handed to G1 on the steps that sample), G1's gradient reads
(the parameters' `.grad` are the graph's static gradients), G2's probes and
validation (eager, outside the graph), an emergency halt (checked before the
batch is staged: a replay is the whole step, so a halt seen before it makes no
update), FLOPs accounting (the trainer counts before the step, as before),
bf16 autocast (inside the captured forward).

Metrics: `tolaria.graph.capture_ms` (each capture, host wall time),
`tolaria.graph.replay_ms` (host time to launch a replay, the mean over the
last `EMIT_EVERY` replays), `tolaria.graph.stage_copy_ms` (device time of
staging a batch into the static inputs, sampled every `SAMPLE_EVERY` steps and
read back without a sync), `tolaria.graph.fallbacks_total`.
"""

import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from api_schemas.enums import SeedStage
from api_schemas.runs import RunCreate
from workers.engine.build import Parts
from workers.engine.forward import Correct, Forward, local_forward_backward
from workers.engine.graph_plan import (
    Action,
    Plan,
    aggregation_name,
    architecture_key,
    graphs_requested,
    unsupported,
)
from workers.engine.seeds.isolation import IsolationSample
from workers.engine.seeds.slot import SeedSlot
from workers.engine.strategy import OneDevice, Strategy
from workers.engine.telemetry import Telemetry

FALLBACK = "tolaria.graph.fallback"
FALLBACKS = "tolaria.graph.fallbacks_total"
CAPTURED = "tolaria.graph.captured"
CAPTURE_MS = "tolaria.graph.capture_ms"
REPLAY_MS = "tolaria.graph.replay_ms"
STAGE_COPY_MS = "tolaria.graph.stage_copy_ms"
EMIT_EVERY = 50  # replays between replay_ms / stage_copy_ms readings
SAMPLE_EVERY = 10  # staged batches between stage-copy timings


class _Graph:
    """One captured step: its static inputs and outputs."""

    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y = x, y
        self.graph: torch.cuda.CUDAGraph | None = None
        self.loss: Tensor | None = None
        self.correct: Tensor | None = None
        self.grads: list[tuple[nn.Parameter, Tensor]] = []
        self.samples: list[tuple[SeedSlot, IsolationSample]] = []


class StepGraphs:
    """The run's CUDA graphs of its training step; inactive until `bind`
    finds the run capturable (and always on CPU)."""

    def __init__(self, telemetry: Telemetry, warmup: int = 2) -> None:
        self.tm = telemetry
        self.plan = Plan(warmup=warmup)
        self.requested = False
        self.active = False
        self.captures = 0
        self.replays = 0
        self.eager_steps = 0  # steps the trainer ran while graphs were on
        self._fw: Forward | None = None
        self._slots: Mapping[str, SeedSlot] = {}
        self._optimizer: Callable[[], torch.optim.Optimizer] | None = None
        self._batch = 0
        self._g: _Graph | None = None
        self._pool: Any = None
        self._stream: torch.cuda.Stream | None = None  # warm-up and capture
        self._stage: torch.cuda.Stream | None = None  # batch staging
        self._dirty = False  # an eager step replaced the graph's .grad tensors
        self._paused: str | None = None
        self._replay_s = 0.0
        self._replay_n = 0
        self._timings: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []
        self._copy_ms: list[float] = []
        self._staged = 0

    # ---- set-up -----------------------------------------------------------------

    def bind(
        self,
        *,
        requested: bool,
        fw: Forward,
        slots: Mapping[str, SeedSlot],
        optimizer: Callable[[], torch.optim.Optimizer],
        batch_size: int,
        why_not: str | None,
    ) -> None:
        """Called once the run's parts are built; `why_not` from `unsupported`."""
        self.requested = requested
        if not requested:
            return
        if why_not is not None:
            # On the CPU this is expected (the spec may be run on either).
            level = "info" if fw.device.type == "cpu" else "warning"
            self._fallback(why_not, "end of run", level)
            return
        self.active = True
        self._fw, self._slots, self._optimizer = fw, slots, optimizer
        self._batch = batch_size
        self._pool = torch.cuda.graph_pool_handle()
        self._stream = torch.cuda.Stream(fw.device)
        self._stage = torch.cuda.Stream(fw.device)

    def bind_run(self, spec: RunCreate, parts: Parts, strategy: Strategy) -> None:
        """`bind` from the run's spec and built parts (the trainer's set-up)."""
        morph = spec.morphogenesis
        why_not = unsupported(
            device=parts.device,
            distributed=not isinstance(strategy, OneDevice),
            compiled=parts.compiled,
            deferred_reads=parts.deferred_reads,
            optimizer=parts.optimizer,
            aggregation=aggregation_name(morph, parts.fw),
        )
        self.bind(
            requested=graphs_requested(spec.model.options),
            fw=parts.fw,
            slots=parts.seeds.slots,
            optimizer=lambda: parts.optimizer,  # a restore may replace it
            batch_size=spec.batch_size,
            why_not=why_not,
        )

    def close(self) -> None:
        """Free the graph (its pool goes with the last graph that used it)."""
        self._g = None
        self.active = False

    # ---- one step -----------------------------------------------------------------

    def step(
        self, x: Tensor, y: Tensor, *, measure: bool, check_halt: Callable[[], None]
    ) -> tuple[Tensor, Correct] | None:
        """The whole step (update included) as a replay or a warm-up; None:
        the trainer runs it eagerly. Raises HaltObserved (from `check_halt`)
        before anything is staged when a halt is set."""
        if not self.active:
            return None
        assert self._fw is not None and self._optimizer is not None
        optimizer = self._optimizer()
        if not all(g.get("capturable") for g in optimizer.param_groups):
            make_capturable(optimizer)  # a new optimizer, or a restored group
        key, reason = architecture_key(self._slots, optimizer, self._fw.model)
        previous = self.plan.key
        action = self.plan.decide(key, reason, x.shape[0] == self._batch)
        if self.plan.key != previous:
            self._g = None  # an architecture change: the old graph goes
        self._pause(reason)
        if action is Action.EAGER:
            self.eager_steps += 1
            self._dirty = self._g is not None
            return None
        check_halt()
        if self._g is None:
            self._g = _Graph(torch.empty_like(x), torch.empty_like(y))
        g = self._g
        self._stage_batch(g, x, y)
        if action is Action.WARMUP:
            return self._warm_step(g, optimizer, measure)
        if action is Action.CAPTURE and not self._capture(g, optimizer):
            return self._warm_step(g, optimizer, measure)  # this step, eagerly
        return self._replay(g, measure)

    def _run(self, g: _Graph, optimizer: torch.optim.Optimizer) -> tuple[Tensor, Any]:
        """The captured function: the eager step's own code on the static inputs."""
        assert self._fw is not None
        loss, correct = local_forward_backward(
            self._fw, optimizer, g.x, g.y, measure=True, check_halt=_never
        )
        optimizer.step()
        return loss, correct

    def _warm_step(
        self, g: _Graph, optimizer: torch.optim.Optimizer, measure: bool
    ) -> tuple[Tensor, Correct]:
        """The step run eagerly on the side stream, as it will be captured."""
        assert self._stream is not None
        current = torch.cuda.current_stream()
        self._stream.wait_stream(current)
        with torch.cuda.stream(self._stream):
            loss, correct = self._run(g, optimizer)
        current.wait_stream(self._stream)
        for t in (loss, correct):
            if isinstance(t, Tensor):
                t.record_stream(current)
        return loss, correct if measure else None

    def _capture(self, g: _Graph, optimizer: torch.optim.Optimizer) -> bool:
        """Record the step into a graph (nothing runs yet); False: it failed,
        reported, and this architecture stays eager."""
        assert self._stream is not None
        started = time.perf_counter()
        training = [s for s in self._slots.values() if s.stage is SeedStage.TRAINING]
        wanted = {s.name: s.sample_next for s in training}
        prior = {s.name: s.last_sample for s in training}
        graph = torch.cuda.CUDAGraph()
        ambient = torch.cuda.current_stream()
        try:
            for slot in training:  # every replay takes the isolation sample
                slot.sample_next = True
            with torch.cuda.graph(
                graph,
                pool=self._pool,
                stream=self._stream,
                capture_error_mode="thread_local",
            ):
                loss, correct = self._run(g, optimizer)
        except Exception as exc:  # noqa: BLE001 - any failure falls back
            # A failed capture_end leaves torch.cuda.graph's stream context
            # entered: the capture stream would stay the current one.
            torch.cuda.set_stream(ambient)
            for slot in training:
                slot.sample_next, slot.last_sample = wanted[slot.name], prior[slot.name]
            self.plan.capture_done(False)
            self._g = None
            why = f"capture failed: {type(exc).__name__}: {exc}"
            self._fallback(why[:500], "change")
            return False
        g.graph, g.loss, g.correct = graph, loss, correct
        g.samples = []
        for slot in training:
            sample = slot.last_sample
            if sample is not None:
                g.samples.append((slot, sample))
            slot.sample_next, slot.last_sample = wanted[slot.name], prior[slot.name]
        g.grads = [
            (p, p.grad)
            for group in optimizer.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        self.plan.capture_done(True)
        self.captures += 1
        ms = (time.perf_counter() - started) * 1000.0
        attrs = {
            "capture_ms": ms,
            "captures": self.captures,
            "architecture": self.plan.changes,
            "pool_reused": self.captures > 1,
            "seeds": {
                s.name: s.stage.value
                for s in self._slots.values()
                if s.seed is not None
            },
        }
        self.tm.metric(CAPTURE_MS, ms, attrs)
        self.tm.event(CAPTURED, "info", attrs)
        return True

    def _replay(self, g: _Graph, measure: bool) -> tuple[Tensor, Correct]:
        assert g.graph is not None and g.loss is not None
        started = time.perf_counter()
        g.graph.replay()
        self._replay_s += time.perf_counter() - started
        self._replay_n += 1
        self.replays += 1
        if self._dirty:  # an eager step set .grad to its own tensors
            for param, grad in g.grads:
                param.grad = grad
            self._dirty = False
        for slot, sample in g.samples:
            if slot.sample_next:  # this step samples: G1 reads it later
                slot.sample_next = False
                diff = sample.max_abs_diff
                taken = diff.clone() if isinstance(diff, Tensor) else diff
                slot.last_sample = IsolationSample(taken, sample.input_detached)
        # Clones: the static outputs are overwritten by the next replay, and
        # the metrics read the losses back in batches.
        correct = g.correct.clone() if measure and g.correct is not None else None
        loss = g.loss.clone()
        if self._replay_n >= EMIT_EVERY:
            self._emit()
        return loss, correct

    # ---- staging the batch --------------------------------------------------------

    def _stage_batch(self, g: _Graph, x: Tensor, y: Tensor) -> None:
        """Copy the batch into the static inputs on the staging stream. It waits
        for the work queued so far (the batch's gather, the previous step's
        reads of the static inputs); the step waits for the copy."""
        assert self._stage is not None
        current = torch.cuda.current_stream()
        self._stage.wait_stream(current)
        timed = self._staged % SAMPLE_EVERY == 0
        self._staged += 1
        with torch.cuda.stream(self._stage):
            if timed:
                begin = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                begin.record()
            g.x.copy_(x, non_blocking=True)
            g.y.copy_(y, non_blocking=True)
            if timed:
                end.record()
                self._timings.append((begin, end))
        for t in (x, y):
            t.record_stream(self._stage)
        current.wait_stream(self._stage)
        self._read_timings()

    def _read_timings(self) -> None:
        """Stage-copy timings whose events have passed (no waiting)."""
        while self._timings and self._timings[0][1].query():
            begin, end = self._timings.pop(0)
            self._copy_ms.append(begin.elapsed_time(end))

    # ---- reporting ----------------------------------------------------------------

    def _emit(self) -> None:
        n = self._replay_n
        self.tm.metric(REPLAY_MS, self._replay_s * 1000.0 / n, {"replays": n})
        if self._copy_ms:
            copies = self._copy_ms
            self.tm.metric(
                STAGE_COPY_MS,
                sum(copies) / len(copies),
                {"samples": len(copies), "max": max(copies)},
            )
            self._copy_ms = []
        self._replay_s, self._replay_n = 0.0, 0

    def _pause(self, reason: str | None) -> None:
        """An expected eager stretch (a blending seed): one info event as it
        starts, none per step, not counted as a fallback."""
        if reason == self._paused:
            return
        self._paused = reason
        if reason is not None:
            attrs = {"reason": reason, "until": "change", "transient": True}
            self.tm.event(FALLBACK, "info", attrs)

    def _fallback(self, reason: str, until: str, level: str = "warning") -> None:
        attrs = {"reason": reason, "until": until, "transient": False}
        self.tm.event(FALLBACK, level, attrs)
        self.tm.count(FALLBACKS)

    def report(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "active": self.active,
            "captures": self.captures,
            "replays": self.replays,
            "eager_steps": self.eager_steps,
        }


def make_capturable(optimizer: torch.optim.Optimizer) -> None:
    """Adam's capturable mode (its step counts on the device, no host reads),
    for every group now and every group a seed adds later."""
    optimizer.defaults["capturable"] = True
    for group in optimizer.param_groups:
        group["capturable"] = True
        for param in group["params"]:
            state = optimizer.state.get(param)
            step = state.get("step") if state else None
            if isinstance(step, Tensor) and step.device != param.device:
                state["step"] = step.to(param.device, torch.float32)  # type: ignore[index]


def _never() -> None:
    return None
