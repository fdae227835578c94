"""Kasmina's seed manager: germinates, advances and culls seeds through the gates.

The trainer calls it at fixed points of each step (`before_forward`,
`after_backward`, `after_step`, `probe`) and at epoch end (`on_epoch_end`). With
no live seed each call returns after one truth test, so an idle manager costs
nothing measurable per step. Those per-step and per-epoch methods live in
stages.py (`StageDriver`); this module germinates, culls and keeps the registry.
"""

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from api_schemas.catalogue import BLUEPRINTS_BY_NAME
from api_schemas.enums import BlendMode, SeedStage
from workers.engine.blueprints import BlueprintCache, build_seed, fits
from workers.engine.seeds import gates
from workers.engine.seeds.gates import GateConfig, GateResult
from workers.engine.seeds.isolation import IsolationMonitor
from workers.engine.seeds.lifecycle import LIVE_STAGES
from workers.engine.seeds.ownership import add_group, remove_group
from workers.engine.seeds.slot import SeedInfo, SeedSlot
from workers.engine.seeds.stages import StageDriver, resolve_signals
from workers.engine.telemetry import Telemetry

S = SeedStage
QUARANTINE_RISK = 0.8


class SeedManager(StageDriver):
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
    ) -> None:
        self.slots = slots
        self.config = config
        self.cache = cache
        self.device = device
        # CUDA: G1's figures are read back at the next check, with no sync.
        self.defer_reads = str(device).startswith("cuda")
        self.tm = telemetry
        self.blend_steps = blend_steps
        self.host_params = host_params
        self.allowed = allowed
        self.optimizer: torch.optim.Optimizer | None = None
        self.monitor = IsolationMonitor(config.isolation_every)
        self.counts: Counter[str] = Counter()
        self.on_change: Callable[[], None] = lambda: None
        self.active: list[SeedSlot] = []
        self._seq = 0
        self._signals: dict[str, dict[str, Any]] = {}
        self._readbacks: dict[str, Any] = {}  # slot -> G2 signals in flight (CUDA)
        for slot in slots.values():
            slot.blend_mode = blend_mode
            slot.set_stage(S.DORMANT)

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
            result = GateResult(
                "G0", False, f"{blueprint} does not fit a {slot.kind} slot"
            )
        if not result.passed or built is None:
            self._gate_failure(slot, result, blueprint)
            return result
        self._seq += 1
        seed_id = f"seed-{self._seq}"
        slot.info = SeedInfo(seed_id, blueprint, self.tm.step, built.params, forced)
        slot.attach(built.module)
        slot.embargo_until = -1
        self._readbacks.pop(slot.name, None)  # a culled predecessor's
        self._signals[slot.name] = {
            "probe": [],
            "host": [],
            "blend": [],
            "step_ms": None,
        }
        self._transition(slot, S.GERMINATED, f"G0 passed ({reason})")
        if self.optimizer is not None:
            add_group(self.optimizer, seed_id, slot.seed_parameters())
        self.counts["germinated"] += 1
        result.figures["seed_id"] = self._seq
        return result

    def cull(self, slot: SeedSlot, reason: str, level: str = "warning") -> None:
        """Cull a live seed: out of the optimizer, module released, slot embargoed."""
        assert slot.info is not None
        self._transition(slot, S.CULLED, reason, level)
        if self.optimizer is not None:
            remove_group(self.optimizer, slot.info.seed_id)
        slot.detach_seed()
        self.counts["culled"] += 1
        slot.embargo_until = self.tm.step + self.config.embargo_steps
        self._transition(
            slot, S.EMBARGOED, f"embargoed until step {slot.embargo_until}"
        )

    def find(self, seed_id: str) -> SeedSlot | None:
        for slot in self.slots.values():
            if slot.info is not None and slot.info.seed_id == seed_id:
                return slot
        return None

    # ---- bookkeeping and telemetry -------------------------------------------------

    def _transition(
        self,
        slot: SeedSlot,
        target: SeedStage,
        reason: str,
        level: str = "info",
        figures: dict[str, float] | None = None,
    ) -> None:
        previous = slot.set_stage(target)
        info = slot.info
        if info is not None:
            info.stage_step = self.tm.step
            info.reason = reason
            info.history.append(
                {
                    "step": self.tm.step,
                    "from": previous.value,
                    "to": target.value,
                    "reason": reason,
                }
            )
        attrs = self._seed_attrs(slot)
        attrs.update(
            {
                "from": previous.value,
                "to": target.value,
                "reason": reason,
                "figures": figures or {},
            }
        )
        self.tm.event("kasmina.seed.stage_changed", level, attrs, value=target.value)
        self.tm.seed("kasmina.seed.stage", target.value, self._seed_attrs(slot))
        self._refresh_active()

    def _gate_failure(
        self, slot: SeedSlot, result: GateResult, blueprint: str | None = None
    ) -> None:
        attrs = self._seed_attrs(slot)
        if blueprint is not None:
            attrs["blueprint"] = blueprint
        attrs.update(
            {"gate": result.gate, "reason": result.reason, "figures": result.figures}
        )
        self.tm.event("kasmina.gate_failure", "warning", attrs, value=result.gate)
        self.counts[f"gate_failures_{result.gate}"] += 1

    def _seed_attrs(self, slot: SeedSlot) -> dict[str, Any]:
        info = slot.info
        return {
            "seed_id": info.seed_id if info else None,
            "slot": slot.name,
            "blueprint": info.blueprint if info else None,
            "stage": slot.stage.value,
            "alpha": slot.alpha,
        }

    def _refresh_active(self) -> None:
        self.active = [
            s
            for s in self.slots.values()
            if s.stage in LIVE_STAGES or s.stage in (S.EMBARGOED,)
        ]
        self.on_change()

    def emit_seed_packets(self) -> None:
        for slot in self.slots.values():
            if slot.info is None or slot.stage is S.DORMANT:
                continue
            attrs = self._seed_attrs(slot)
            self.tm.seed("kasmina.seed.alpha", slot.alpha, attrs)
            self.tm.seed("kasmina.seed.stage", slot.stage.value, attrs)

    def stage_counts(self) -> dict[str, int]:
        return dict(Counter(s.stage.value for s in self.slots.values()))

    def live_count(self) -> int:
        return sum(1 for s in self.slots.values() if s.stage in LIVE_STAGES)

    def views(self) -> list[dict[str, Any]]:
        return [s.view() for s in self.slots.values()]

    def terminate(self) -> None:
        for slot in self.slots.values():
            if slot.stage is not S.TERMINATED:
                slot.set_stage(S.TERMINATED)

    # ---- registry state for checkpoints and rollback -----------------------------

    def state(self) -> dict[str, Any]:
        for signals in self._signals.values():
            resolve_signals(signals, "probe", "host", "blend")
        return {
            "signals": copy.deepcopy(self._signals),
            "seq": self._seq,
            "counts": dict(self.counts),
            "slots": {
                name: {
                    "stage": s.stage.value,
                    "alpha": s.alpha,
                    "embargo_until": s.embargo_until,
                    "info": asdict(s.info) if s.info else None,
                }
                for name, s in self.slots.items()
            },
        }

    def load_state(self, state: dict[str, Any], seed: int = 0) -> None:
        """Rebuild modules so the model's state_dict can be loaded over them."""
        self._seq = int(state["seq"])
        self._signals = copy.deepcopy(state.get("signals", {}))
        self._readbacks = {}
        self.counts = Counter(state["counts"])
        for name, saved in state["slots"].items():
            slot = self.slots[name]
            slot.stage = SeedStage(saved["stage"])
            slot.alpha = float(saved["alpha"])
            slot.embargo_until = int(saved["embargo_until"])
            slot.g1_pending = None  # a reading of the state rolled back from
            slot.info = SeedInfo(**saved["info"]) if saved["info"] else None
            needs_module = slot.stage in LIVE_STAGES or slot.stage is S.FOSSILIZED
            if needs_module and slot.info is not None:
                slot.attach(
                    build_seed(
                        slot.info.blueprint, slot.shape, self.device, seed
                    ).module
                )
                self._signals.setdefault(
                    slot.name, {"probe": [], "host": [], "blend": [], "step_ms": None}
                )
            else:
                slot.detach_seed()
            slot.alpha = float(saved["alpha"])
        self._refresh_active()

    def seed_groups(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Optimizer groups the seeds need, in germination order."""
        held = [s for s in self.slots.values() if s.seed is not None and s.info]
        held.sort(key=lambda s: int(s.info.seed_id.split("-")[1]) if s.info else 0)
        groups = []
        for slot in held:
            assert slot.info is not None
            owner = slot.info.seed_id
            if slot.stage is S.FOSSILIZED:
                owner = f"fossil:{owner}"
            groups.append((owner, slot.seed_parameters()))
        return groups
