"""Every stage change, gate failure and cull of a seed, and what each one tells.

One place moves a slot between stages, so the seed's history, the telemetry
events, the registry's active list and the optimizer's groups cannot drift
apart; the seed manager and its stage driver both call it.
"""

from collections.abc import Callable
from typing import Any

from api_schemas.enums import SeedStage
from workers.engine.seeds.gates import GateConfig, GateResult
from workers.engine.seeds.ownership import SeedGroups
from workers.engine.seeds.registry import SeedRegistry
from workers.engine.seeds.slot import SeedSlot
from workers.engine.telemetry import Telemetry

S = SeedStage


class Transitions:
    """Moves slots between stages and records each move."""

    def __init__(
        self,
        registry: SeedRegistry,
        groups: SeedGroups,
        config: GateConfig,
        telemetry: Telemetry,
    ) -> None:
        self.registry = registry
        self.groups = groups
        self.config = config
        self.tm = telemetry
        # Called whenever the set of live or embargoed slots may have changed
        # (the trainer refreshes its progress view of the seeds).
        self.on_change: Callable[[], None] = lambda: None
        # Set when the registry is restored; the next step tells (emit_restored).
        self.restored = False

    def move(
        self,
        slot: SeedSlot,
        target: SeedStage,
        reason: str,
        level: str = "info",
        figures: dict[str, float] | None = None,
        gate: str | None = None,
    ) -> None:
        """Change the stage (raises on an illegal move), note it in the seed's
        history and tell: a stage_changed event and a stage packet. `gate`
        names the gate whose pass made the move (the lineage's gate record)."""
        previous = slot.set_stage(target)
        change = {"from": previous.value, "to": target.value, "reason": reason}
        info = slot.info
        if info is not None:
            info.stage_step = self.tm.step
            info.reason = reason
            info.history.append({"step": self.tm.step, **change})
        attrs = {**self.attrs(slot), **change, "figures": figures or {}, "gate": gate}
        self.tm.event("kasmina.seed.stage_changed", level, attrs, value=target.value)
        self.tm.seed("kasmina.seed.stage", target.value, self.attrs(slot))
        self.refresh_active()

    def gate_failure(
        self, slot: SeedSlot, result: GateResult, blueprint: str | None = None
    ) -> None:
        attrs = self.attrs(slot)
        if blueprint is not None:
            attrs["blueprint"] = blueprint
        attrs.update(
            {"gate": result.gate, "reason": result.reason, "figures": result.figures}
        )
        self.tm.event("kasmina.gate_failure", "warning", attrs, value=result.gate)
        self.registry.counts[f"gate_failures_{result.gate}"] += 1

    def cull(self, slot: SeedSlot, reason: str, level: str = "warning") -> None:
        """Cull a live seed: out of the optimizer, module released, slot embargoed."""
        assert slot.info is not None
        self.move(slot, S.CULLED, reason, level)
        self.registry.record_outcome(slot, "culled")
        self.groups.remove(slot.info.seed_id)
        slot.detach_seed()
        self.registry.counts["culled"] += 1
        slot.embargo_until = self.tm.step + self.config.embargo_steps
        self.move(slot, S.EMBARGOED, f"embargoed until step {slot.embargo_until}")

    def refresh_active(self) -> None:
        self.registry.refresh_active()
        self.on_change()

    def attrs(self, slot: SeedSlot) -> dict[str, Any]:
        """The seed's identity as every seed packet and event carries it; with
        its size and steps, one packet is enough for the gateway's lineage to
        start a seed it never saw germinate (a forked run's grown seeds)."""
        info = slot.info
        return {
            "seed_id": info.seed_id if info else None,
            "slot": slot.name,
            "blueprint": info.blueprint if info else None,
            "stage": slot.stage.value,
            "alpha": slot.alpha,
            "params": info.params if info else 0,
            "germinated_step": info.germinated_step if info else None,
            "stage_step": info.stage_step if info else None,
            "reason": info.reason if info else None,
        }

    def emit_restored(self) -> None:
        """After a rollback or a resume, the seeds the model holds now, sent at
        the first step after it (when the step counter is the run's again):
        the lineage ends seeds planted after the restored state, and revives
        those it brought back."""
        self.restored = False
        held = [self.attrs(s) for s in self.registry.slots.values() if s.info]
        self.tm.event("kasmina.seeds.restored", "info", {"seeds": held})

    def emit_seed_packets(self) -> None:
        for slot in self.registry.slots.values():
            if slot.info is None or slot.stage is S.DORMANT:
                continue
            attrs = self.attrs(slot)
            self.tm.seed("kasmina.seed.alpha", slot.alpha, attrs)
            self.tm.seed("kasmina.seed.stage", slot.stage.value, attrs)
