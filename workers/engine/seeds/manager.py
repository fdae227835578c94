"""Kasmina's seed manager: germinates, advances and culls seeds through the gates.

The trainer calls it at fixed points of each step (`before_forward`,
`after_backward`, `after_step`, `probe`) and at epoch end (`on_epoch_end`). With
no live seed each call returns after one truth test, so an idle manager costs
nothing measurable per step.

It is the face of four parts, each owning its state: the registry (slots,
signals, counts; registry.py), the optimizer's seed groups (ownership.py), the
stage changes and what they tell (transitions.py), and the stage driver that
runs the gates on the trainer's hooks (stages.py). This module germinates,
reads the registry out and restores it.
"""

from collections import Counter
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from api_schemas.catalogue import BLUEPRINTS_BY_NAME, BlueprintRead
from api_schemas.enums import BlendMode, SeedStage
from workers.engine.blueprints import BlueprintCache, BuiltSeed, build_seed, fits
from workers.engine.collective import SOLO, Collective
from workers.engine.seeds import gates
from workers.engine.seeds.agreement import LossFn
from workers.engine.seeds.gates import GateConfig, GateResult
from workers.engine.seeds.isolation import IsolationMonitor
from workers.engine.seeds.lifecycle import LIVE_STAGES
from workers.engine.seeds.ownership import SeedGroups
from workers.engine.seeds.registry import SeedRegistry
from workers.engine.seeds.signals import SlotSignals
from workers.engine.seeds.slot import SeedInfo, SeedSlot
from workers.engine.seeds.stages import StageDriver
from workers.engine.seeds.transitions import Transitions
from workers.engine.telemetry import Telemetry

S = SeedStage
QUARANTINE_RISK = 0.8


class SeedManager:
    """All slots of one host, their seeds, and the signals the gates read."""

    def __init__(
        self,
        slots: dict[str, SeedSlot],
        *,
        config: GateConfig,
        cache: BlueprintCache,
        device: str,
        telemetry: Telemetry,
        blend_mode: BlendMode = BlendMode.convex,
        blend_steps: int = 20,
        host_params: int = 0,
        allowed: list[str] | None = None,
        collective: Collective = SOLO,
    ) -> None:
        self.config = config
        self.cache = cache
        self.device = device
        self.tm = telemetry
        self.host_params = host_params
        self.allowed = allowed
        self.monitor = IsolationMonitor(config.isolation_every)
        self._registry = SeedRegistry(slots)
        self._groups = SeedGroups()
        self._moves = Transitions(self._registry, self._groups, config, telemetry)
        self._driver = StageDriver(
            self._registry,
            self._moves,
            config=config,
            monitor=self.monitor,
            groups=self._groups,
            telemetry=telemetry,
            collective=collective,
            device=str(device),
            blend_steps=blend_steps,
        )
        for slot in slots.values():
            slot.blend_mode = blend_mode
            slot.isolation_step = config.isolation_step
            slot.set_stage(S.DORMANT)

    # ---- what the trainer reads and sets --------------------------------------------

    @property
    def slots(self) -> dict[str, SeedSlot]:
        return self._registry.slots

    @property
    def counts(self) -> Counter[str]:
        return self._registry.counts

    @property
    def active(self) -> list[SeedSlot]:
        return self._registry.active

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        return self._groups.optimizer

    @optimizer.setter
    def optimizer(self, optimizer: torch.optim.Optimizer | None) -> None:
        self._groups.optimizer = optimizer

    @property
    def on_change(self) -> Callable[[], None]:
        return self._moves.on_change

    @on_change.setter
    def on_change(self, callback: Callable[[], None]) -> None:
        self._moves.on_change = callback

    @property
    def defer_reads(self) -> bool:
        """CUDA: the gates' figures are copied back without a sync and read later."""
        return self._driver.defer_reads

    @defer_reads.setter
    def defer_reads(self, defer: bool) -> None:
        self._driver.defer_reads = defer

    # ---- the trainer's hooks (stages.py) --------------------------------------------

    def before_forward(self, step: int) -> None:
        self._driver.before_forward(step)

    def after_backward(self, step: int) -> None:
        self._driver.after_backward(step)

    def wants_probe(self, step: int) -> bool:
        return self._driver.wants_probe(step)

    def probe(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        loss_fn: LossFn,
        host_loss: float | Tensor,
    ) -> None:
        self._driver.probe(model, x, y, loss_fn, host_loss)

    def after_step(
        self, step: int, loss: float | Tensor | None, step_ms: float
    ) -> None:
        if self._moves.restored:
            self._moves.emit_restored()
        self._driver.after_step(step, loss, step_ms)

    def on_epoch_end(
        self, val_loss: float, evaluate: Callable[[], float], step_ms: float
    ) -> None:
        self._driver.on_epoch_end(val_loss, evaluate, step_ms)

    # ---- germination and culling -------------------------------------------------

    def is_allowed(self, blueprint: str, forced: bool) -> bool:
        entry = BLUEPRINTS_BY_NAME.get(blueprint)
        if entry is None or (
            self.allowed is not None and blueprint not in self.allowed
        ):
            return False
        # An operator's explicit seed_enable may override quarantine; the gates
        # still judge the seed on its signals.
        return forced or entry.risk < QUARANTINE_RISK

    def slot_free(self, slot: SeedSlot) -> bool:
        return slot.stage is S.DORMANT

    def embargoed(self, slot: SeedSlot) -> bool:
        return slot.stage in (S.CULLED, S.EMBARGOED, S.RESETTING) or (
            self.tm.step < slot.embargo_until
        )

    def prefetch(self, blueprints: list[str]) -> None:
        """Start builds for every allowed blueprint that fits a free slot."""
        for slot in self.slots.values():
            for name in blueprints:
                entry = BLUEPRINTS_BY_NAME.get(name)
                if entry and fits(entry, slot.shape):
                    self.cache.prefetch(name, slot.shape, self.device)

    def germinate(
        self,
        slot_name: str,
        blueprint: str,
        *,
        forced: bool = False,
        reason: str = "policy",
    ) -> GateResult:
        """Run G0 and, if it passes, put a new seed into the slot (GERMINATED)."""
        slot = self.slots.get(slot_name)
        if slot is None:
            return GateResult("G0", False, f"unknown slot {slot_name!r}")
        entry = BLUEPRINTS_BY_NAME.get(blueprint)
        built = None
        if entry is not None and fits(entry, slot.shape) and self.slot_free(slot):
            built = self.cache.take(blueprint, slot.shape, self.device)
        result = self._g0(slot, blueprint, entry, built, forced)
        if not result.passed or built is None:
            self._moves.gate_failure(slot, result, blueprint)
            return result
        self._plant(slot, blueprint, built, forced, reason, result.figures)
        result.figures["seed_id"] = self._registry.seq
        return result

    def _g0(
        self,
        slot: SeedSlot,
        blueprint: str,
        entry: BlueprintRead | None,
        built: BuiltSeed | None,
        forced: bool,
    ) -> GateResult:
        result = gates.g0_sanity(
            known=entry is not None,
            allowed=self.is_allowed(blueprint, forced),
            params=built.params if built else 0,
            bounds=(entry.params_min, entry.params_max) if entry else (0, 0),
            host_params=self.host_params,
            slot_free=self.slot_free(slot),
            embargoed=self.embargoed(slot),
            dry_run_ok=bool(built and built.dry_run_ok),
            config=self.config,
        )
        if entry is not None and not fits(entry, slot.shape):
            why = f"{blueprint} does not fit a {slot.kind} slot"
            return GateResult("G0", False, why)
        return result

    def _plant(
        self,
        slot: SeedSlot,
        blueprint: str,
        built: BuiltSeed,
        forced: bool,
        why: str,
        figures: dict[str, float],
    ) -> None:
        """A new seed in the slot, with fresh signals and its optimizer group."""
        seed_id = self._registry.next_seed_id()
        slot.info = SeedInfo(seed_id, blueprint, self.tm.step, built.params, forced)
        slot.attach(built.module)
        slot.embargo_until = -1
        # Fresh signals; a culled predecessor's readback in flight goes with its own.
        self._registry.signals[slot.name] = SlotSignals()
        reason = f"G0 passed ({why})"
        self._moves.move(slot, S.GERMINATED, reason, figures=dict(figures), gate="G0")
        self._groups.add(seed_id, slot.seed_parameters())
        self.counts["germinated"] += 1

    def cull(self, slot: SeedSlot, reason: str, level: str = "warning") -> None:
        """Cull a live seed: out of the optimizer, module released, slot embargoed."""
        self._moves.cull(slot, reason, level)

    def find(self, seed_id: str) -> SeedSlot | None:
        return self._registry.find(seed_id)

    # ---- read-outs ----------------------------------------------------------------

    def emit_seed_packets(self) -> None:
        self._moves.emit_seed_packets()

    def stage_counts(self) -> dict[str, int]:
        return self._registry.stage_counts()

    def outcomes_of(self, kind: str) -> dict[str, Counter[str]]:
        """How seeds ended in this run by "blueprint" or "slot" name."""
        return self._registry.outcomes_of(kind)

    def live_count(self) -> int:
        return self._registry.live_count()

    def views(self) -> list[dict[str, Any]]:
        return self._registry.views()

    def seed_groups(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Optimizer groups the seeds need, in germination order."""
        return self._registry.seed_groups()

    def terminate(self) -> None:
        for slot in self.slots.values():
            if slot.stage is not S.TERMINATED:
                slot.set_stage(S.TERMINATED)

    # ---- registry state for checkpoints and rollback -----------------------------

    def state(self) -> dict[str, Any]:
        return self._registry.state()

    def load_state(self, state: dict[str, Any], seed: int = 0) -> None:
        """Rebuild modules so the model's state_dict can be loaded over them."""
        self._registry.load_state(state)
        self._moves.restored = True
        for name in state["slots"]:
            slot = self.slots[name]
            alpha = slot.alpha  # detach_seed zeroes it
            needs_module = slot.stage in LIVE_STAGES or slot.stage is S.FOSSILIZED
            if needs_module and slot.info is not None:
                built = build_seed(slot.info.blueprint, slot.shape, self.device, seed)
                slot.attach(built.module)
                self._registry.signals.setdefault(slot.name, SlotSignals())
            else:
                slot.detach_seed()
            slot.alpha = alpha
        self._refresh_active()

    def _refresh_active(self) -> None:
        self._moves.refresh_active()
