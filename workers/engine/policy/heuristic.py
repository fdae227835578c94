"""Tamiyo's default: grow when the training loss plateaus.

One seed at a time; the slot with the most headroom (fewest parameters added so
far, earliest first on ties); the lowest-risk allowed blueprint that fits it.
"""

from workers.engine.policy.base import Decision, PolicyInputs, SlotState


class HeuristicPolicy:
    def __init__(self, plateau: float = 0.03, warmup_steps: int = 30) -> None:
        self.plateau = plateau
        self.warmup_steps = warmup_steps

    def decide(self, inputs: PolicyInputs) -> Decision:
        if inputs.step < self.warmup_steps:
            return Decision(reason="warming up")
        if inputs.seeds_germinated >= inputs.max_seeds:
            return Decision(reason="seed budget spent")
        if inputs.live_seeds:
            return Decision(reason="a seed is still in its lifecycle")
        trend = inputs.loss_trend
        if trend is None or trend < -self.plateau:
            return Decision(reason=f"loss still falling (trend {trend})")
        slot = self._pick_slot(inputs.slots)
        if slot is None:
            return Decision(reason="no free slot")
        blueprint = self._pick_blueprint(inputs, slot)
        if blueprint is None:
            return Decision(reason=f"no allowed blueprint fits {slot.name}")
        return Decision(
            "germinate",
            slot=slot.name,
            blueprint=blueprint,
            reason=f"loss plateau (trend {trend:+.4f})",
            figures={"trend": trend},
        )

    @staticmethod
    def _pick_slot(slots: list[SlotState]) -> SlotState | None:
        free = [s for s in slots if s.free]
        return min(free, key=lambda s: s.params_added) if free else None

    @staticmethod
    def _pick_blueprint(inputs: PolicyInputs, slot: SlotState) -> str | None:
        fitting = [b for b in inputs.blueprints if slot.kind in b["slot_kinds"]]
        if not fitting:
            return None
        # Lowest risk first; among equals prefer more capacity.
        best = min(fitting, key=lambda b: (b["risk"], -b["params_estimate"]))
        return str(best["name"])
