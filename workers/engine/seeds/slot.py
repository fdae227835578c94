"""SeedSlot: an injection point in the host that may hold one seed.

A host network puts a `SeedSlot` after each block and calls it on the block's
activation. Empty, the slot returns its input (one int compare on the hot path).
The slot holds the seed's module as a submodule, so the model's state_dict and
parameters include it and checkpoints carry fossilised seeds like any layer.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from api_schemas.enums import BlendMode, SeedStage
from workers.engine.readback import Readback
from workers.engine.seeds.blending import blend
from workers.engine.seeds.isolation import IsolationSample, straight_through
from workers.engine.seeds.lifecycle import BLENDED_STAGES, check_transition

SlotKind = Literal["vector", "image", "sequence"]

# Forward modes, kept as ints so the empty-slot path costs one comparison.
_BYPASS, _ISOLATED, _BLENDED = 0, 1, 2


def slot_kind(shape: tuple[int, ...]) -> SlotKind:
    """What a blueprint must fit: (C, H, W) an image, (C, L) a sequence (a 1-D
    CNN's activation), (width,) a vector."""
    if len(shape) == 3:
        return "image"
    return "sequence" if len(shape) == 2 else "vector"


@dataclass
class SeedInfo:
    """The registry record of the seed a slot holds (or last held)."""

    seed_id: str
    blueprint: str
    germinated_step: int
    params: int = 0
    forced: bool = False
    reason: str | None = None
    stage_step: int = 0
    blend_step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


class SeedWrapper(nn.Module):
    """The blueprint's module plus the seed-owned per-channel blend scale."""

    def __init__(self, body: nn.Module, channels: int) -> None:
        super().__init__()
        self.body = body
        self.channel_scale = nn.Parameter(torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.body(x)
        return out


class SeedSlot(nn.Module):
    """One named slot; `shape` is one sample's activation shape at this point."""

    def __init__(self, name: str, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.name = name
        self.shape = tuple(shape)
        self.kind = slot_kind(self.shape)
        self.seed: SeedWrapper | None = None
        self.stage = SeedStage.UNKNOWN
        self.info: SeedInfo | None = None
        self.alpha = 0.0
        self.blend_mode = BlendMode.convex
        self.isolation_step = 0.1  # seeds/isolation.py; set from GateConfig
        self.embargo_until = -1
        self._mode = _BYPASS
        self.bypass = False  # counterfactual evaluation: act as if empty
        self.force_full = False  # probe: act as if fully blended
        self.sample_next = False
        self.last_sample: IsolationSample | None = None
        # A deferred G1 reading (CUDA) and its isolation sample, judged at the
        # next check (seeds/stages.py).
        self.g1_pending: tuple[Readback, IsolationSample | None] | None = None
        # Under `pcgrad`, what the seed's input passes through so its gradient
        # can be told apart from the host's own (seeds/gradient_aggregation.py).
        self.grad_tap: Callable[[Tensor], Tensor] | None = None

    @property
    def channels(self) -> int:
        return self.shape[0]

    def set_stage(self, target: SeedStage) -> SeedStage:
        """Move to `target` (raises IllegalTransition) and pick the forward mode."""
        previous = self.stage
        check_transition(previous, target)
        self.stage = target
        self._refresh_mode()
        return previous

    def _refresh_mode(self) -> None:
        if self.seed is None:
            self._mode = _BYPASS
        elif self.stage is SeedStage.TRAINING:
            self._mode = _ISOLATED
        elif self.stage in BLENDED_STAGES:
            self._mode = _BLENDED
        else:
            self._mode = _BYPASS

    def attach(self, module: SeedWrapper) -> None:
        self.seed = module
        self._refresh_mode()

    def detach_seed(self) -> None:
        self.seed = None
        self.g1_pending = None
        self.alpha = 0.0
        self._refresh_mode()

    def forward(self, h: Tensor) -> Tensor:
        mode = self._mode
        if mode == _BYPASS or self.bypass or self.seed is None:
            return h
        if self.force_full:
            return self._blend(h, 1.0)
        if mode == _ISOLATED:
            return self._isolated(h)
        return self._blend(h, self.alpha)

    def _isolated(self, h: Tensor) -> Tensor:
        assert self.seed is not None
        x = h.detach()
        seed_out = self.seed(x)
        # Where the seed's output changes nothing once blended in full.
        anchor = torch.zeros_like(x) if self.blend_mode is BlendMode.residual else x
        out = straight_through(h, seed_out, anchor, self.isolation_step)
        if self.sample_next:
            self.sample_next = False
            # Kept as a tensor: the G1 check reads it with the gradient norm,
            # so sampling adds no host-device sync of its own.
            diff = (out.detach() - h.detach()).abs().max() if h.numel() else 0.0
            self.last_sample = IsolationSample(diff, x.grad_fn is None)
        return out

    def _blend(self, h: Tensor, alpha: float) -> Tensor:
        assert self.seed is not None
        x = h if self.grad_tap is None else self.grad_tap(h)
        return blend(self.blend_mode, h, self.seed(x), alpha, self.seed.channel_scale)

    def seed_parameters(self) -> list[nn.Parameter]:
        return [] if self.seed is None else list(self.seed.parameters())

    def view(self) -> dict[str, Any]:
        """A plain-dict view for progress snapshots and the registry."""
        info = self.info
        return {
            "slot": self.name,
            "stage": self.stage.value,
            "alpha": self.alpha,
            "seed_id": info.seed_id if info else None,
            "blueprint": info.blueprint if info else None,
            "params": info.params if info else 0,
            "germinated_step": info.germinated_step if info else None,
            "reason": info.reason if info else None,
        }


def find_slots(model: nn.Module) -> dict[str, SeedSlot]:
    """Every SeedSlot in the model by its name (names must be unique)."""
    slots: dict[str, SeedSlot] = {}
    for module in model.modules():
        if isinstance(module, SeedSlot):
            if module.name in slots:
                raise ValueError(f"duplicate slot name {module.name!r}")
            slots[module.name] = module
    return slots
