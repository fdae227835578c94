"""Compute accounting: the training FLOPs of each optimizer step, what the host
and each seed cost, each measured once per batch shape (and per way a seed
runs), composed per architecture.

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
run's validation is not counted either). Under `gradient_aggregation: pcgrad`
a step with two or more live blended seeds also runs one partial backward per
such seed (seeds/gradient_aggregation.py), counted as `aggregation`.

Over several ranks the trainer holds the global batch and each rank trains on
its shard of it: measured on the global batch, the count is the whole run's
(all ranks together), the same figure on every rank with no communication,
and a DDP run counts what a one-device run of the same spec counts.
"""

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from api_schemas.enums import SeedStage
from workers.engine.seeds.gradient_aggregation import (
    TAPPED_STAGES,
    SlotTap,
    decompose,
)
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
    aggregation: int = 0  # pcgrad's backwards per live blended seed (in total)

    def attrs(self) -> dict[str, Any]:
        attrs = {
            "batch": self.batch,
            "host": self.host,
            "probe": self.probe,
            "seeds": [asdict(seed) for seed in self.seeds],
        }
        if self.aggregation:
            attrs["aggregation"] = self.aggregation
        return attrs


@dataclass(frozen=True)
class Pass:
    """One module's FLOPs on one batch: its forward, and forward and backward."""

    forward: int
    training: int


class ComputeMeter:
    """The cost of the architecture the next step runs, cached by the slots'
    seeds and stages and the batch shape, so a step costs two comparisons.
    Its parts are measured once each: the host (every slot empty) per batch
    shape, each seed per batch and per way it runs (isolated or blended); a
    stage change composes them again (a few microseconds), a rollback to an
    architecture seen before measures nothing. The trainer calls
    `invalidate` on every seed change."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.tm = telemetry
        self.measured = 0  # passes measured in this run (host or seed)
        self._passes: dict[tuple[Any, ...], Pass] = {}
        self._costs: dict[tuple[Any, ...], StepCost] = {}
        self._current: StepCost | None = None
        self._shape: torch.Size | None = None

    def invalidate(self) -> None:
        self._current = None

    def step(self, model: nn.Module, slots: Slots, x: Tensor) -> tuple[int, float]:
        """A step's FLOPs, and the seconds spent measuring them (0.0 when
        cached): the trainer keeps those out of the step's time, which G4
        and the policy read (a host's measurement takes milliseconds, the
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
        held = tuple((s.name, s.stage.value, _seed_key(s)) for s in slots.values())
        key = (tuple(x.shape), x.dtype, held)
        cost = self._costs.get(key)
        if cost is None:
            cost = self._costs[key] = self._compose(model, slots, x)
            self.tm.metric(STEP_FLOPS, float(cost.total), cost.attrs())
        return cost

    def _compose(self, model: nn.Module, slots: Slots, x: Tensor) -> StepCost:
        """A step is the host's pass plus each running seed's; G2's probe is,
        per TRAINING seed, one forward of the host and every running seed."""
        shape = ("host", tuple(x.shape), x.dtype)
        host = self._pass(shape, partial(host_pass, model, slots, x))
        running = [s for s in slots.values() if s.seed is not None and _runs(s.stage)]
        seeds, seed_forwards = [], 0
        for slot in running:
            isolated = slot.stage is SeedStage.TRAINING
            key = ("seed", _seed_key(slot), isolated, x.shape[0], x.dtype)
            done = self._pass(key, partial(seed_pass, slot, x, isolated=isolated))
            stage = slot.stage.value
            seeds.append(SeedCost(_seed_id(slot), slot.name, stage, done.training))
            seed_forwards += done.forward
        training = sum(s.stage is SeedStage.TRAINING for s in running)
        probe = training * (host.forward + seed_forwards)
        split = 0
        tapped = [s for s in running if s.grad_tap is not None]
        if sum(s.stage in TAPPED_STAGES for s in tapped) > 1:  # pcgrad splits
            held = tuple((s.name, s.stage.value, _seed_key(s)) for s in slots.values())
            split_key = ("pcgrad", held, tuple(x.shape), x.dtype)
            measure_it = partial(aggregation_pass, model, slots, x)
            split = self._pass(split_key, measure_it).training
        total = host.training + sum(seed.flops for seed in seeds) + split
        return StepCost(x.shape[0], total, host.training, tuple(seeds), probe, split)

    def _pass(self, key: tuple[Any, ...], measure_it: Callable[[], Pass]) -> Pass:
        found = self._passes.get(key)
        if found is None:
            found = self._passes[key] = measure_it()
            self.measured += 1
        return found


def host_pass(model: nn.Module, slots: Slots, x: Tensor) -> Pass:
    """The model with every slot empty: the host alone."""
    with _slots_emptied(slots):
        return measure_pass(model, x)


def seed_pass(slot: SeedSlot, x: Tensor, *, isolated: bool) -> Pass:
    """The slot's seed on its activation for a batch like `x`. Isolated
    (TRAINING) it reads the detached activation: no gradient for its input;
    blended, the host's gradient flows through it to the block below."""
    assert slot.seed is not None
    device = next(slot.seed.parameters()).device
    h = torch.zeros((x.shape[0], *slot.shape), dtype=x.dtype, device=device)
    return measure_pass(slot.seed, h, input_grad=not isolated)


def _seed_key(slot: SeedSlot) -> object:
    """Which seed a slot holds: its id, unique in a run's process (a rollback
    rebuilds the same seed under it), with its blueprint; None: empty."""
    if slot.seed is None:
        return None
    info = slot.info
    return (info.seed_id, info.blueprint) if info else id(slot.seed)


def _seed_id(slot: SeedSlot) -> str | None:
    return slot.info.seed_id if slot.info else None


def _runs(stage: SeedStage) -> bool:
    return stage is SeedStage.TRAINING or stage in BLENDED_STAGES


def measure(model: nn.Module, x: Tensor, *, backward: bool) -> int:
    """FLOPs of one forward (and backward) of `model` on the batch `x`."""
    passed = measure_pass(model, x)
    return passed.training if backward else passed.forward


def measure_pass(module: nn.Module, x: Tensor, *, input_grad: bool = False) -> Pass:
    """The forward's FLOPs and the forward and backward's of `module` on `x`,
    leaving no trace on the module, its gradients, its buffers or the RNG.

    The module is called through `functional_call` with meta-device
    stand-ins for its parameters and buffers, on a meta input: only shapes
    are worked out, so no arithmetic runs, no memory is touched and nothing
    waits for the device; gradients land on the stand-ins and BatchNorm's
    running statistics update them, not the live ones; meta kernels draw no
    random numbers (a dropout mask costs nothing). A deep copy would copy
    the weights (GPU memory) and keep a compiled forward bound to the
    original module. A forward that reads a value (`.item()`, a
    data-dependent branch) cannot run on meta: it is measured on its device
    with detached aliases of the parameters (no copy; the gradients go to the
    aliases) and clones of the buffers, under a forked RNG.

    The backward starts from the output's sum, not from the task's loss: the
    loss is user code that may count its calls or arm a fault (the tests'
    do), it has no products of its own, and the backward's FLOPs depend on
    the gradient's shape, not its values.
    """
    try:
        return _count(module, x, input_grad, meta=True)
    except (RuntimeError, NotImplementedError):
        devices = [x.device] if x.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            return _count(module, x, input_grad, meta=False)


def _count(module: nn.Module, x: Tensor, input_grad: bool, *, meta: bool) -> Pass:
    tensors = _stand_ins(module, meta)
    x = torch.empty_like(x, device=META) if meta else x.detach()
    x.requires_grad_(input_grad)
    counter = FlopCounterMode(display=False)
    with _eager(module), torch.enable_grad(), counter:
        out = functional_call(module, tensors, (x,))
        forward = int(counter.get_total_flops())
        if out.requires_grad:
            out.sum().backward()
    return Pass(forward, int(counter.get_total_flops()))


def aggregation_pass(model: nn.Module, slots: Slots, x: Tensor) -> Pass:
    """What `pcgrad` adds to a step (seeds/gradient_aggregation.py): per live
    blended seed, one backward from its slot's activation down, measured as
    the aggregator runs them after the step's forward and first backward
    (which the host's and the seeds' passes count). Measured like
    `measure_pass`: on meta stand-ins, else on the device."""
    try:
        return _count_split(model, slots, x, meta=True)
    except (RuntimeError, NotImplementedError):
        devices = [x.device] if x.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            return _count_split(model, slots, x, meta=False)


def _count_split(model: nn.Module, slots: Slots, x: Tensor, *, meta: bool) -> Pass:
    tensors = _stand_ins(model, meta)
    params = [tensors[n] for n, p in model.named_parameters() if p.requires_grad]
    taps = [s.grad_tap for s in slots.values() if isinstance(s.grad_tap, SlotTap)]
    x = torch.empty_like(x, device=META) if meta else x.detach()
    counter = FlopCounterMode(display=False)
    first: list[int] = []  # the count once the first backward is done
    with _eager(model), torch.enable_grad(), counter:
        out = functional_call(model, tensors, (x,))

        def mark() -> None:
            first.append(int(counter.get_total_flops()))

        split = decompose(out.sum(), taps, params, on_base=mark)
    if split is None or not first:
        return Pass(0, 0)
    return Pass(0, int(counter.get_total_flops()) - first[0])


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
def _slots_emptied(slots: Slots) -> Iterator[None]:
    """Every slot acting as if empty (the bypass of G4's counterfactual
    validation), put back after."""
    saved = [(s, s.bypass) for s in slots.values()]
    try:
        for slot in slots.values():
            slot.bypass = True
        yield
    finally:
        for slot, bypassed in saved:
            slot.bypass = bypassed
