"""Tamiyo's default: grow while the host is capacity-limited, never after.

A host is worth growing when it still learns but has run out of room: past its
warm-up, with most of the run still ahead (a seed needs time to train, blend and
prove itself), its training accuracy short of converged, no overfitting (more
capacity would widen the gap), and its loss no longer falling fast (a host that
still learns quickly with what it has needs nothing). That is the spirit of the
published triggers (the train/validation gap of FRAGrow, the plateau of
Firefly/GradMax schedules) with one rule each, so every wait says which rule held.

Where and what, from evidence: the slot whose seeds failed least and that was
grown least; the blueprint that fits it, within the risk budget, that has not
been culled more often than fossilised in this run, preferring blueprints that
fossilised here, then more capacity, then lower risk.
"""

from typing import Any, Protocol

from api_schemas.policy_options import HeuristicOptions
from workers.engine.policy.base import Decision, PolicyInputs, SlotState


class TimingOptions(Protocol):
    """The options the hard rules read (heuristic and learned policies)."""

    warmup_steps: int
    warmup_fraction: float
    last_fraction: float
    max_live: int


def hard_rules(o: TimingOptions, inputs: PolicyInputs) -> str | None:
    """The rules no policy overrides (warm-up, too late, the seed budget,
    seeds live at once): the first that says wait, else None."""
    step, total = inputs.step, inputs.total_steps
    warmup = max(o.warmup_steps, int(o.warmup_fraction * (total or 0)))
    if step < warmup:
        return f"warming up (until step {warmup})"
    if total and step > o.last_fraction * total:
        return f"too late to grow (past {o.last_fraction:.0%} of {total} steps)"
    if inputs.seeds_germinated >= inputs.max_seeds:
        return "seed budget spent"
    if inputs.live_seeds >= o.max_live:
        return "a seed is still in its lifecycle"
    return None


class HeuristicPolicy:
    def __init__(self, **options: Any) -> None:
        self.options = HeuristicOptions.model_validate(options)
        self._accuracy: float | None = None  # smoothed training accuracy

    def decide(self, inputs: PolicyInputs) -> Decision:
        accuracy = self._smoothed(inputs.accuracy)
        why_not = self._why_not_now(inputs, accuracy)
        if why_not is not None:
            return Decision(reason=why_not)
        slot = self._pick_slot(inputs)
        if slot is None:
            return Decision(reason="no free slot")
        blueprint = self._pick_blueprint(inputs, slot)
        if blueprint is None:
            return Decision(reason=f"no allowed blueprint fits {slot.name}")
        trend = inputs.loss_trend
        return Decision(
            "germinate",
            slot=slot.name,
            blueprint=blueprint,
            reason=(
                f"capacity-limited: train accuracy {accuracy:.3f}, "
                f"loss trend {trend:+.4f}"
            ),
            figures={"accuracy": accuracy or 0.0, "trend": trend or 0.0},
        )

    def _smoothed(self, accuracy: float | None) -> float | None:
        if accuracy is None:
            return self._accuracy
        weight = self.options.accuracy_smoothing
        previous = self._accuracy
        self._accuracy = (
            accuracy
            if previous is None
            else weight * accuracy + (1.0 - weight) * previous
        )
        return self._accuracy

    def _why_not_now(self, inputs: PolicyInputs, accuracy: float | None) -> str | None:
        """The first rule that says wait, or None when the host should grow."""
        o = self.options
        if (hard := hard_rules(o, inputs)) is not None:
            return hard
        if accuracy is None:
            return "no accuracy reading yet"
        if accuracy >= o.converged_accuracy:
            return f"host converged (train accuracy {accuracy:.3f})"
        val = inputs.val_accuracy
        if val is not None and accuracy - val > o.max_generalisation_gap:
            return f"host overfits (train {accuracy:.3f}, validation {val:.3f})"
        trend = inputs.loss_trend
        if trend is None:
            return "loss trend not measured yet"
        if trend < -o.fast_learning:
            return f"still learning fast (loss trend {trend:+.4f})"
        return None

    @staticmethod
    def _pick_slot(inputs: PolicyInputs) -> SlotState | None:
        free = [s for s in inputs.slots if s.free]
        if not free:
            return None
        failures = inputs.slot_failures
        # min() keeps the first of equals: the host's earliest slot.
        return min(free, key=lambda s: (failures.get(s.name, 0), s.params_added))

    def _pick_blueprint(self, inputs: PolicyInputs, slot: SlotState) -> str | None:
        record = inputs.blueprint_record

        def harmful(name: str) -> bool:
            seen = record.get(name, {})
            return seen.get("culled", 0) > seen.get("fossilized", 0)

        fitting = [
            b
            for b in inputs.blueprints
            if slot.kind in b["slot_kinds"]
            and b["risk"] <= self.options.max_risk
            and not harmful(str(b["name"]))
        ]
        if not fitting:
            return None
        best = min(
            fitting,
            key=lambda b: (
                -record.get(str(b["name"]), {}).get("fossilized", 0),
                -b["params_estimate"],
                b["risk"],
            ),
        )
        return str(best["name"])
