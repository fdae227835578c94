"""Kasmina's seed manager: germinates, advances and culls seeds through the gates.

The trainer calls it at fixed points of each step (`before_forward`,
`after_backward`, `after_step`, `probe`) and at epoch end (`on_epoch_end`). With
no live seed each call returns after one truth test, so an idle manager costs
nothing measurable per step.
"""

import copy
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn

from api_schemas.catalogue import BLUEPRINTS_BY_NAME
from api_schemas.enums import BlendMode, SeedStage
from workers.engine.blueprints import BlueprintCache, build_seed, fits
from workers.engine.seeds import gates
from workers.engine.seeds.blending import alpha_ramp
from workers.engine.seeds.gates import GateConfig, GateResult
from workers.engine.seeds.isolation import IsolationMonitor
from workers.engine.seeds.lifecycle import LIVE_STAGES
from workers.engine.seeds.ownership import add_group, remove_group
from workers.engine.seeds.slot import SeedInfo, SeedSlot
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
    ) -> None:
        self.slots = slots
        self.config = config
        self.cache = cache
        self.device = device
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

    # ---- per-step hooks ---------------------------------------------------------

    def before_forward(self, step: int) -> None:
        if not self.active or not self.monitor.should_sample(step):
            return
        for slot in self.active:
            slot.sample_next = slot.stage is S.TRAINING

    def after_backward(self, step: int) -> None:
        """G1 on sampled steps: seed gradients healthy and isolation held."""
        if not self.active:
            return
        for slot in list(self.active):
            if slot.stage is S.TRAINING and step % self.config.g1_check_every == 0:
                self._check_g1(slot)

    def _check_g1(self, slot: SeedSlot) -> None:
        violations = 0
        grads = [p.grad for p in slot.seed_parameters() if p.grad is not None]
        sample = slot.last_sample
        # The gradient norm and the isolation sample's difference come back in
        # one read (on CUDA, the only sync of this check).
        figures: list[Tensor | float] = [
            torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            if grads
            else 0.0
        ]
        if sample is not None:
            figures.append(sample.max_abs_diff)
        norm, *diff = _read(figures)
        if sample is not None:
            sample.max_abs_diff = diff[0]
            violations = int(self.monitor.record(sample))
            slot.last_sample = None
            if violations:
                self.tm.count("kasmina.isolation.violations")
        result = gates.g1_gradient_health(grad_norm=norm, violations=violations)
        if not result.passed:
            self._gate_failure(slot, result)
            self.cull(slot, f"G1 failed: {result.reason}")

    def wants_probe(self, step: int) -> bool:
        return (
            bool(self.active)
            and step % self.config.probe_every == 0
            and any(s.stage is S.TRAINING for s in self.active)
        )

    @torch.no_grad()
    def probe(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        host_loss: float | Tensor,
    ) -> None:
        """G2's signal: the batch loss with each TRAINING seed fully active.
        On CUDA the losses stay device tensors until G2 reads them."""
        for slot in self.active:
            if slot.stage is not S.TRAINING:
                continue
            slot.force_full = True
            try:
                probe_loss: float | Tensor = loss_fn(model(x), y).float()
                if probe_loss.device.type == "cpu":
                    probe_loss = float(probe_loss)
            finally:
                slot.force_full = False
            signals = self._signals[slot.name]
            signals["probe"].append(probe_loss)
            signals["host"].append(host_loss)

    def after_step(
        self, step: int, loss: float | Tensor | None, step_ms: float
    ) -> None:
        """Advance stages that move on optimizer steps (not on validation)."""
        if not self.active:
            return
        for slot in list(self.active):
            handler = self._STEP_HANDLERS.get(slot.stage)
            if handler is not None:
                handler(self, slot, step, loss, step_ms)

    def _on_germinated(
        self, slot: SeedSlot, step: int, loss: Any, step_ms: float
    ) -> None:
        self._signals[slot.name]["step_ms"] = step_ms
        self._transition(slot, S.TRAINING, "training in isolation")

    def _on_training(
        self, slot: SeedSlot, step: int, loss: Any, step_ms: float
    ) -> None:
        assert slot.info is not None
        signals = self._signals[slot.name]
        in_stage = step - slot.info.stage_step
        if in_stage % self.config.probe_every != 0:
            return
        _resolve(signals, "probe", "host")
        result = gates.g2_stability(
            probe_losses=signals["probe"],
            host_losses=signals["host"],
            steps_in_stage=in_stage,
            config=self.config,
        )
        if result.passed:
            window = signals["host"][-self.config.g2_window :]
            signals["baseline"] = (
                sum(window) / len(window) if window else _read([loss or 0.0])[0]
            )
            slot.info.blend_step = 0
            self._transition(
                slot, S.BLENDING, f"G2 passed: {result.reason}", figures=result.figures
            )
        elif not result.retry or in_stage >= self.config.max_training_steps:
            self._gate_failure(slot, result)
            self.cull(slot, f"G2 failed: {result.reason}")

    def _on_blending(
        self, slot: SeedSlot, step: int, loss: Any, step_ms: float
    ) -> None:
        assert slot.info is not None
        slot.info.blend_step += 1
        slot.alpha = alpha_ramp(slot.info.blend_step, self.blend_steps)
        signals = self._signals[slot.name]
        if loss is not None:
            signals["blend"].append(loss)
        if slot.alpha < 1.0:
            return
        _resolve(signals, "blend")
        if isinstance(loss, Tensor):
            loss = signals["blend"][-1]
        result = gates.g3_interface(
            alpha=slot.alpha,
            blend_losses=signals["blend"][-self.blend_steps :],
            baseline=float(signals.get("baseline") or loss or 0.0),
            outputs_finite=loss is None or math.isfinite(loss),
            config=self.config,
        )
        if result.passed:
            self._transition(
                slot, S.SHADOWING, f"G3 passed: {result.reason}", figures=result.figures
            )
        else:
            self._gate_failure(slot, result)
            self.cull(slot, f"G3 failed: {result.reason}")

    def _on_embargoed(
        self, slot: SeedSlot, step: int, loss: Any, step_ms: float
    ) -> None:
        if step < slot.embargo_until:
            return
        self._transition(slot, S.RESETTING, "embargo over")
        result = gates.g5_reset(
            module_detached=slot.seed is None,
            optimizer_clear=self.optimizer is None
            or not any(
                g.get("owner") == (slot.info.seed_id if slot.info else None)
                for g in self.optimizer.param_groups
            ),
            state_clear=True,
        )
        if result.passed:
            self._transition(slot, S.DORMANT, f"G5 passed: {result.reason}")
        else:
            self._gate_failure(slot, result)

    _STEP_HANDLERS = {
        S.GERMINATED: _on_germinated,
        S.TRAINING: _on_training,
        S.BLENDING: _on_blending,
        S.EMBARGOED: _on_embargoed,
    }

    # ---- per-epoch hooks ---------------------------------------------------------

    def on_epoch_end(
        self, val_loss: float, evaluate: Callable[[], float], step_ms: float
    ) -> None:
        """G4 for SHADOWING and PROBATIONARY seeds: counterfactual validation."""
        for slot in list(self.active):
            if slot.stage not in (S.SHADOWING, S.PROBATIONARY):
                continue
            slot.bypass = True
            try:
                without = evaluate()
            finally:
                slot.bypass = False
            before = self._signals[slot.name].get("step_ms") or step_ms
            result = gates.g4_system_impact(
                val_loss_with=val_loss,
                val_loss_without=without,
                step_ms_now=step_ms,
                step_ms_before=before,
                config=self.config,
            )
            if not result.passed:
                self._gate_failure(slot, result)
                self.cull(slot, f"G4 failed: {result.reason}")
            elif slot.stage is S.SHADOWING:
                self._transition(
                    slot,
                    S.PROBATIONARY,
                    f"G4 passed: {result.reason}",
                    figures=result.figures,
                )
            else:
                self._fossilize(slot, result)

    def _fossilize(self, slot: SeedSlot, result: GateResult) -> None:
        assert slot.info is not None
        slot.alpha = 1.0
        self._transition(
            slot, S.FOSSILIZED, f"G4 passed: {result.reason}", figures=result.figures
        )
        if self.optimizer is not None:
            # From here the seed is an ordinary part of the model: its group keeps
            # training, renamed so no seed can be culled out of the host.
            for group in self.optimizer.param_groups:
                if group.get("owner") == slot.info.seed_id:
                    group["owner"] = f"fossil:{slot.info.seed_id}"
        self.counts["fossilized"] += 1

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
            _resolve(signals, "probe", "host", "blend")
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
        self.counts = Counter(state["counts"])
        for name, saved in state["slots"].items():
            slot = self.slots[name]
            slot.stage = SeedStage(saved["stage"])
            slot.alpha = float(saved["alpha"])
            slot.embargo_until = int(saved["embargo_until"])
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


def _read(values: list[Tensor | float]) -> list[float]:
    """Floats for a mix of floats and (device) tensors, in one transfer."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    if not tensors:
        return [float(v) for v in values]
    read = iter(torch.stack([t.detach().float() for t in tensors]).tolist())
    return [next(read) if isinstance(v, Tensor) else float(v) for v in values]


def _resolve(signals: dict[str, Any], *keys: str) -> None:
    """Turn the device tensors queued in these signal lists into floats."""
    for key in keys:
        values = signals.get(key)
        if values and any(isinstance(v, Tensor) for v in values):
            signals[key] = _read(values)
