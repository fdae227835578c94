"""Compute accounting: the training FLOPs of each optimizer step, what the host
and each seed cost, measured once per architecture and batch shape.

What counts is the growth experiment's convention (experiments/growth/
flops.py, which measures its GroMo peer the same way): what
`torch.utils.flop_counter.FlopCounterMode` counts in a step's forward, loss and
backward, i.e. matrix products and convolutions; elementwise work, the blend,
the loss (cross-entropy, MSE: no products) and the optimizer are free.

The seeds' stages decide what a step runs: a seed in TRAINING runs its own
forward and backward on the detached activation (the host's backward does not
pass through it); a blending, shadowing, probationary or fossilised seed is
part of the model (its backward also reaches the host below it); a
germinated, culled or embargoed one costs nothing. G2's probe forwards (every
`probe_every` steps while a seed trains, on the training batch) are training
compute that a grown run spends and a static run does not, so they count as
well; validation, and the gates' counterfactual validations, do not (a static
run's validation is not counted either).

Over several ranks the trainer holds the global batch and each rank trains on
its shard of it: measured on the global batch, the count is the whole run's
(all ranks together), the same figure on every rank with no communication,
and a DDP run counts what a one-device run of the same spec counts.
"""

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from api_schemas.enums import SeedStage
from workers.engine.seeds.lifecycle import BLENDED_STAGES
from workers.engine.seeds.slot import SeedSlot
from workers.engine.telemetry import Telemetry

TRAIN_FLOPS = "tolaria.compute.flops"  # cumulative, at every epoch end
STEP_FLOPS = "tolaria.compute.step_flops"  # one step's breakdown, when measured
META = torch.device("meta")
Slots = Mapping[str, SeedSlot]


@dataclass(frozen=True)
class SeedCost:
    """What one seed adds to a training step, in its stage."""

    seed_id: str | None
    slot: str
    stage: str
    flops: int


@dataclass(frozen=True)
class StepCost:
    """One architecture's training FLOPs at one batch size."""

    batch: int
    total: int  # a step's forward, loss and backward
    host: int  # the same with every slot empty
    seeds: tuple[SeedCost, ...]
    probe: int  # G2's probe forwards on a probed step (each TRAINING seed in full)

    def attrs(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "host": self.host,
            "probe": self.probe,
            "seeds": [asdict(seed) for seed in self.seeds],
        }


class ComputeMeter:
    """The cost of the architecture the next step runs, measured when the
    architecture or the batch shape changes and cached by both, so a step
    costs two comparisons and going back to an architecture (a rollback)
    measures nothing. The trainer calls `invalidate` on every seed change."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.tm = telemetry
        self.measured = 0  # step costs measured in this run (the cache's misses)
        self._costs: dict[tuple[Any, ...], StepCost] = {}
        self._current: StepCost | None = None
        self._shape: torch.Size | None = None

    def invalidate(self) -> None:
        self._current = None

    def step(self, model: nn.Module, slots: Slots, x: Tensor) -> tuple[int, float]:
        """A step's FLOPs, and the seconds spent measuring them (0.0 when
        cached): the trainer keeps those out of the step's time, which G4
        and the policy read (a measurement is tens of milliseconds, the
        first in a process about a second: FlopCounterMode imports dynamo)."""
        if self._current is not None and x.shape == self._shape:
            return self._current.total, 0.0
        started = time.perf_counter()
        flops = self.cost(model, slots, x).total
        return flops, time.perf_counter() - started

    def cost(self, model: nn.Module, slots: Slots, x: Tensor) -> StepCost:
        """The cost of a step of `model` on the batch `x`, as its slots stand."""
        current = self._current
        if current is None or x.shape != self._shape:
            current = self._current = self._lookup(model, slots, x)
            self._shape = x.shape
        return current

    def _lookup(self, model: nn.Module, slots: Slots, x: Tensor) -> StepCost:
        key = (tuple(x.shape), x.dtype, architecture(model, slots))
        cost = self._costs.get(key)
        if cost is None:
            cost = self._costs[key] = step_cost(model, slots, x)
            self.measured += 1
            self.tm.metric(STEP_FLOPS, float(cost.total), cost.attrs())
        return cost


def architecture(model: nn.Module, slots: Slots) -> tuple[Any, ...]:
    """What decides a step's cost besides the batch: each slot's seed and
    stage, and the parameters' shapes."""
    held = tuple(
        (s.name, s.stage.value, _seed_id(s), s.seed is None) for s in slots.values()
    )
    return held, tuple(tuple(p.shape) for p in model.parameters())


def step_cost(model: nn.Module, slots: Slots, x: Tensor) -> StepCost:
    """Measure a training step as the slots stand, and its breakdown: the host
    with every slot empty, and each seed as what it adds to that."""
    everyone = frozenset(slots)

    def train(bypass: frozenset[str]) -> int:
        with _slots_set(slots, bypass, None):
            return measure(model, x, backward=True)

    costly = [s for s in slots.values() if s.seed is not None and _runs(s.stage)]
    total = train(frozenset())
    host = train(everyone) if costly else total
    seeds = tuple(
        SeedCost(_seed_id(s), s.name, s.stage.value, train(everyone - {s.name}) - host)
        for s in costly
    )
    probe = 0
    for slot in costly:
        if slot.stage is SeedStage.TRAINING:
            with _slots_set(slots, frozenset(), slot.name):
                probe += measure(model, x, backward=False)
    return StepCost(x.shape[0], total, host, seeds, probe)


def _seed_id(slot: SeedSlot) -> str | None:
    return slot.info.seed_id if slot.info else None


def _runs(stage: SeedStage) -> bool:
    return stage is SeedStage.TRAINING or stage in BLENDED_STAGES


def measure(model: nn.Module, x: Tensor, *, backward: bool) -> int:
    """FLOPs of one forward (and backward) of `model` on the batch `x`,
    leaving no trace on the model, its gradients, its buffers or the RNG.

    The model is called through `functional_call` with meta-device stand-ins
    for its parameters and buffers, on a meta input: only shapes are worked
    out, so no arithmetic runs, no memory is touched and nothing waits for the
    device; gradients land on the stand-ins and BatchNorm's running statistics
    update them, not the live ones; meta kernels draw no random numbers (a
    dropout mask costs nothing). A deep copy would copy the weights (GPU
    memory) and keep a compiled forward bound to the original module. A
    forward that reads a value (`.item()`, a data-dependent branch) cannot run
    on meta: it is measured on its device with detached aliases of the
    parameters (no copy; the gradients go to the aliases) and clones of the
    buffers, under a forked RNG.

    The backward starts from the output's sum, not from the task's loss: the
    loss is user code that may count its calls or arm a fault (the tests'
    do), it has no products of its own, and the backward's FLOPs depend on
    the gradient's shape, not its values.
    """
    try:
        return _count(model, x, backward, meta=True)
    except (RuntimeError, NotImplementedError):
        devices = [x.device] if x.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            return _count(model, x, backward, meta=False)


def _count(model: nn.Module, x: Tensor, backward: bool, *, meta: bool) -> int:
    tensors = _stand_ins(model, meta)
    if meta:
        x = torch.empty_like(x, device=META)
    counter = FlopCounterMode(display=False)
    with _eager(model), torch.set_grad_enabled(backward), counter:
        out = functional_call(model, tensors, (x,))
        if backward and out.requires_grad:
            out.sum().backward()
    return int(counter.get_total_flops())


def _stand_ins(model: nn.Module, meta: bool) -> dict[str, Tensor]:
    tensors: dict[str, Tensor] = {}
    for name, param in model.named_parameters():
        twin = torch.empty_like(param, device=META) if meta else param.detach()
        tensors[name] = twin.requires_grad_(param.requires_grad)
    for name, buffer in model.named_buffers():
        tensors[name] = (
            torch.empty_like(buffer, device=META) if meta else buffer.clone()
        )
    return tensors


@contextlib.contextmanager
def _eager(model: nn.Module) -> Iterator[None]:
    """A compiled host's forwards (runtime.compile_host sets them on the
    instance) set aside for the measurement: eager, they count the same
    products, and the count never depends on what dynamo makes of a dispatch
    mode and meta inputs (torch 2.13 runs them eagerly; a recompile would be
    spent from the run's recompile budget)."""
    compiled = [m for m in model.modules() if _compiled(m.__dict__.get("forward"))]
    hidden = [(m, m.__dict__.pop("forward")) for m in compiled]
    try:
        yield
    finally:
        for module, forward in hidden:
            module.forward = forward


def _compiled(forward: object) -> bool:
    return getattr(forward, "_torchdynamo_orig_callable", None) is not None


@contextlib.contextmanager
def _slots_set(
    slots: Slots, bypass: frozenset[str], full: str | None
) -> Iterator[None]:
    """The slots as a measurement needs them (`bypass`ed ones empty, `full`
    as G2's probe runs it), put back after; no isolation sample is taken."""
    saved = [(s, s.bypass, s.force_full, s.sample_next) for s in slots.values()]
    try:
        for slot in slots.values():
            slot.bypass = slot.name in bypass
            slot.force_full = slot.name == full
            slot.sample_next = False
        yield
    finally:
        for slot, bypassed, forced, sample in saved:
            slot.bypass, slot.force_full, slot.sample_next = bypassed, forced, sample
