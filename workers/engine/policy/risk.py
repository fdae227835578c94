"""Tamiyo's risk engine: may downgrade a decision to `wait`, never upgrade it."""

from dataclasses import dataclass

from api_schemas.catalogue import BLUEPRINTS_BY_NAME
from workers.engine.policy.base import Decision

QUARANTINE_RISK = 0.8


@dataclass
class RiskState:
    conservative_until: int = -1
    growth_paused_until: int = -1
    violations_seen: int = 0


class RiskEngine:
    def __init__(self, spike_factor: float = 2.0, conservative_steps: int = 50) -> None:
        self.spike_factor = spike_factor
        self.conservative_steps = conservative_steps
        self.state = RiskState()

    def conservative(self, step: int) -> bool:
        return step < self.state.conservative_until

    def enter_conservative(self, step: int) -> bool:
        """True when this call newly entered conservative mode."""
        entered = not self.conservative(step)
        self.state.conservative_until = step + self.conservative_steps
        return entered

    def observe(
        self, step: int, loss: float | None, loss_ewma: float | None, violations: int
    ) -> str | None:
        """Update from the latest signals; returns why growth got blocked, if so."""
        if loss is not None and loss_ewma and loss > self.spike_factor * loss_ewma:
            self.enter_conservative(step)
            return "loss spike"
        if violations > self.state.violations_seen:
            self.state.violations_seen = violations
            self.state.growth_paused_until = step + self.conservative_steps
            return "isolation violations"
        return None

    def review(self, step: int, decision: Decision) -> Decision:
        """Apply the rules to a germinate decision."""
        if decision.action != "germinate":
            return decision
        entry = BLUEPRINTS_BY_NAME.get(decision.blueprint or "")
        if entry is not None and entry.risk >= QUARANTINE_RISK:
            return Decision(
                reason=f"risk: {entry.name} quarantined (risk {entry.risk})"
            )
        if self.conservative(step):
            return Decision(reason="risk: conservative mode")
        if step < self.state.growth_paused_until:
            return Decision(reason="risk: growth paused after isolation violations")
        return decision
