"""Gradient aggregation across seeds: `sum` (plain backpropagation) or `pcgrad`.

Several seeds blended into one host at once (BLENDING, SHADOWING or
PROBATIONARY, each in its own slot) all pass the task loss's gradient down
into the host below them. What conflicts is those contributions: for every
parameter, the gradient splits exactly into the part that reached it without
passing through any live seed (the host's own path, fossilised seeds
included: they are host) and, per live blended seed, the part whose path
into the host passed through that seed's branch last (nearest the
parameter; a path through two seeds counts once, for the lower one). Two seeds
conflict when their parts point against each other (negative dot product over
all parameters). `pcgrad` projects each seed's part onto the normal plane of
every part it conflicts with, in a random order per step, as Yu et al. 2020
(PCGrad) do per task, and sums; the host's own part is added unchanged. A seed
in TRAINING reads the detached activation (seeds/isolation.py): its gradient
never reaches the host, so it cannot conflict and is left alone.

How the parts are made, from the step's one forward: a `SlotTap` on each live
blended seed's input is an identity in the forward; in the backward it keeps
the gradient that came through the seed's branch and passes nothing on. One
backward from the loss then gives the host's own part (and the seeds' own
parameters' gradients through the host's path), and the kept gradient at each
tap is a seed's share at its slot. Each seed's part is one more backward from
its slot's activation down, taken nearest the loss first, during which the
taps below keep collecting: k live blended seeds cost k partial backwards,
which compute accounting counts (compute.py). With fewer than two such seeds
nothing is tapped and the step is plain backpropagation.

Telemetry, every `every` steps (docs/telemetry.md): `kasmina.seed.grad_share`
per seed (its part's norm over the sum of every part's norm, the host's own
included), `kasmina.grad.conflicts_total` (conflicting pairs found so far) on
decomposed steps, and `tolaria.grad.layer_norm` per layer (module) of the
aggregated gradient.
"""

import random
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from api_schemas.enums import SeedStage
from workers.engine.telemetry import Telemetry

S = SeedStage
# Live and blended: what a seed's path into the host is while it can conflict.
TAPPED_STAGES = frozenset({S.BLENDING, S.SHADOWING, S.PROBATIONARY})
SHARE = "kasmina.seed.grad_share"
CONFLICTS = "kasmina.grad.conflicts_total"
LAYER_NORM = "tolaria.grad.layer_norm"


class _Tap(torch.autograd.Function):
    """Identity; backward: the gradient kept by the tap when it is collecting."""

    @staticmethod
    def forward(ctx: Any, h: Tensor, tap: "SlotTap") -> Tensor:
        ctx.tap = tap
        return h.view_as(h)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None]:
        tap: SlotTap = ctx.tap
        if not tap.collecting:
            return grad, None
        tap.captured = grad if tap.captured is None else tap.captured + grad
        return None, None


class SlotTap:
    """On one slot: routes its seed's input through `_Tap` while that seed is
    one of at least two live blended seeds (training mode, with gradients)."""

    def __init__(self, slot: Any, count_tapped: Callable[[], int]) -> None:
        self.slot = slot  # a SeedSlot (typed loosely: slot.py calls this)
        self.count_tapped = count_tapped
        self.h: Tensor | None = None  # the slot's activation of the last forward
        self.collecting = False
        self.captured: Tensor | None = None

    def eligible(self) -> bool:
        return self.slot.seed is not None and self.slot.stage in TAPPED_STAGES

    def __call__(self, h: Tensor) -> Tensor:
        if not (
            torch.is_grad_enabled()
            and h.requires_grad
            and self.slot.training
            and self.eligible()
            and self.count_tapped() >= 2
        ):
            return h
        self.h = h
        out: Tensor = _Tap.apply(h, self)
        return out


def install_taps(slots: Sequence[Any]) -> list[SlotTap]:
    """A tap on every slot (in forward order), set as the slot's `grad_tap`."""
    taps: list[SlotTap] = []

    def count() -> int:
        return sum(tap.eligible() for tap in taps)

    for slot in slots:
        tap = SlotTap(slot, count)
        slot.grad_tap = tap
        taps.append(tap)
    return taps


Grads = list[Tensor | None]


def decompose(
    loss: Tensor,
    taps: Sequence[SlotTap],
    params: Sequence[Tensor],
    on_base: Callable[[], None] | None = None,
) -> tuple[Grads, list[tuple[SlotTap, Grads]]] | None:
    """The host's own part and each live blended seed's part of the gradient
    of `loss` over `params`; they sum to the plain gradient. None when fewer
    than two taps were used by the forward (nothing to split). Frees the graph."""
    used = [tap for tap in taps if tap.h is not None]
    if len(used) < 2:
        for tap in used:
            tap.h = None
        return None
    for tap in used:
        tap.collecting, tap.captured = True, None
    try:
        base: Grads = list(
            torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        )
        if on_base is not None:
            on_base()
        parts: list[tuple[SlotTap, Grads]] = []
        for index in range(len(used) - 1, -1, -1):  # nearest the loss first
            tap = used[index]
            kept, tap.captured = tap.captured, None
            h = tap.h
            assert h is not None
            if kept is None:
                parts.append((tap, [None] * len(params)))
                continue
            grads = torch.autograd.grad(
                h, params, kept, retain_graph=index > 0, allow_unused=True
            )
            parts.append((tap, list(grads)))
        parts.reverse()  # back to forward order
        return base, parts
    finally:
        for tap in used:
            tap.collecting, tap.captured, tap.h = False, None, None


def pcgrad(
    grads: Sequence[Tensor], order: random.Random
) -> tuple[list[Tensor], Tensor]:
    """PCGrad (Yu et al. 2020, Algorithm 1) on flat gradients: each g_i, for
    every other g_j in a random order, loses its component along g_j when
    g_i . g_j < 0 (g_i <- g_i - (g_i . g_j / |g_j|^2) g_j, against the
    original g_j). Returns the projected gradients and the conflicting pairs
    met (i against j and j against i count once each) as a device tensor:
    the projection is branch-free (a clamped coefficient), so nothing here
    waits for the device."""
    projected = []
    conflicts = torch.zeros((), dtype=torch.long, device=grads[0].device)
    for i, g in enumerate(grads):
        out = g.clone()
        others = [j for j in range(len(grads)) if j != i]
        order.shuffle(others)
        for j in others:
            other = grads[j]
            dot = torch.dot(out, other)
            conflicts = conflicts + (dot < 0)
            scale = dot.clamp(max=0.0) / other.dot(other).clamp_min(1e-20)
            out = out - scale * other
        projected.append(out)
    return projected, conflicts


def _flat(grads: Grads, params: Sequence[Tensor]) -> Tensor:
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).reshape(-1).float()
            for g, p in zip(grads, params, strict=True)
        ]
    )


class PCGradAggregator:
    """Replaces the step's `loss.backward()` (forward.py) under `pcgrad`.

    `backward` is called per micro-batch and adds up the parts; `finish`, once
    per step, projects and writes each parameter's `.grad`. The step is the
    trainer's next (telemetry's step + 1). The projections never wait for
    the device (branch-free); the figures are read back every `every` steps,
    one read each (shares and conflicts, layer norms)."""

    def __init__(
        self,
        model: nn.Module,
        slots: Sequence[Any],
        telemetry: Telemetry,
        *,
        every: int = 10,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.taps = install_taps(slots)
        self.tm = telemetry
        self.every = max(1, every)
        self.seed = seed
        self._conflicts: Tensor | int = 0  # conflicting pairs met (device)
        self.decomposed_steps = 0
        self._base: Tensor | None = None
        self._parts: dict[int, tuple[SlotTap, Tensor]] = {}
        self._params: list[Tensor] = []
        self._reached: list[bool] = []

    def backward(self, loss: Tensor) -> None:
        params: list[Tensor] = [p for p in self.model.parameters() if p.requires_grad]
        split = decompose(loss, self.taps, params)
        if split is None:
            if self._base is None:
                loss.backward()
            else:  # an earlier micro-batch of this step was split
                grads = torch.autograd.grad(loss, params, allow_unused=True)
                self._add(params, list(grads), [])
            return
        base, parts = split
        self._add(params, base, parts)

    def _add(
        self, params: list[Tensor], base: Grads, parts: list[tuple[SlotTap, Grads]]
    ) -> None:
        if self._base is None:
            self._params = params
            # Micro-batches before this one wrote .grad by plain backward.
            earlier = [p.grad for p in params]
            self._reached = [g is not None for g in earlier]
            self._base = _flat(earlier, params)
        self._base = self._base + _flat(base, params)
        self._reach(base)
        for tap, grads in parts:
            self._reach(grads)
            key = id(tap)
            part = _flat(grads, params)
            if key in self._parts:
                part = self._parts[key][1] + part
            self._parts[key] = (tap, part)

    def _reach(self, grads: Grads) -> None:
        """Which parameters some part reached: the others keep `.grad` None,
        as plain backpropagation leaves them (Adam skips them)."""
        self._reached = [
            r or g is not None for r, g in zip(self._reached, grads, strict=True)
        ]

    def finish(self) -> None:
        """After the step's last backward: project, write `.grad`, report."""
        step = self.tm.step + 1
        base, params = self._base, self._params
        self._base, self._params = None, []
        parts, self._parts = list(self._parts.values()), {}
        if base is None:
            if step % self.every == 0:
                self._layer_norms(step)
            return
        self.decomposed_steps += 1
        seed_parts = [part for _, part in parts]
        projected, conflicts = pcgrad(
            seed_parts, random.Random(self.seed * 1_000_003 + step)
        )
        self._conflicts = self._conflicts + conflicts
        total = base + torch.stack(projected).sum(dim=0) if projected else base
        offset = 0
        for p, reached in zip(params, self._reached, strict=True):
            n = p.numel()
            if reached:
                p.grad = total[offset : offset + n].view_as(p).to(p.dtype)
            offset += n
        if step % self.every == 0:
            self._shares(step, base, parts)
            self._layer_norms(step)

    def _shares(
        self, step: int, base: Tensor, parts: list[tuple[SlotTap, Tensor]]
    ) -> None:
        norms = [base.norm()] + [part.norm() for _, part in parts]
        *values, conflicts = torch.stack(  # one read back
            norms + [torch.as_tensor(self._conflicts, device=base.device).float()]
        ).tolist()
        whole = sum(values) or 1.0
        for (tap, _), norm in zip(parts, values[1:], strict=True):
            info = tap.slot.info
            attrs = {"seed_id": info.seed_id if info else None, "slot": tap.slot.name}
            self.tm.metric(SHARE, norm / whole, attrs, step=step)
        self.tm.metric(CONFLICTS, conflicts, step=step)

    @property
    def conflicts(self) -> int:
        """Conflicting pairs met over the run (reads the device's count)."""
        return int(self._conflicts)

    def _layer_norms(self, step: int) -> None:
        layers: dict[str, list[Tensor]] = {}
        for name, p in self.model.named_parameters():
            if p.grad is not None:
                layers.setdefault(name.rpartition(".")[0] or name, []).append(p.grad)
        if not layers:
            return
        norms = torch.stack(
            [
                torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
                for grads in layers.values()
            ]
        ).tolist()
        for layer, norm in zip(layers, norms, strict=True):
            self.tm.metric(LAYER_NORM, norm, {"layer": layer}, step=step)
