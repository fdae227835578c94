"""Tolaria's emergency ladder: L0 normal, L1 notice, L2 elevated (rollback),
L3 conservative (no growth), L4 halt.

Triggers are classified here; the trainer carries out the action the level
names. Failures are counted in a sliding window of steps so a burst escalates
while an isolated blip decays back to L0.
"""

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from workers.engine.hooks import Hooks
from workers.engine.runtime import describe
from workers.engine.telemetry import Telemetry


class Level(IntEnum):
    NORMAL = 0
    NOTICE = 1
    ELEVATED = 2
    CONSERVATIVE = 3
    HALT = 4


@dataclass
class LadderConfig:
    spike_factor: float = 3.0  # loss > 3x its EWMA: L1 notice
    explosion_factor: float = 10.0  # loss > 10x its EWMA: L2, roll back
    window_steps: int = 200  # failures counted over this many steps
    conservative_after: int = 3  # failures in the window -> L3
    halt_after: int = 6  # failures in the window -> L4
    calm_steps: int = 100  # healthy steps before the level decays to L0
    ewma_beta: float = 0.9
    # Spikes and explosions are judged against max(EWMA, this fraction of the
    # first loss): once a run has nearly fitted its data (EWMA ~0.001), one hard
    # batch at 0.06 is noise, not an explosion that should roll back and halt.
    loss_floor_fraction: float = 0.1


class EmergencyLadder:
    def __init__(self, config: LadderConfig | None = None) -> None:
        self.config = config or LadderConfig()
        self.level = Level.NORMAL
        self.loss_ewma: float | None = None
        self.first_loss: float | None = None
        self._failures: deque[int] = deque()
        self._last_trouble = 0

    def classify_loss(self, step: int, loss: float) -> tuple[Level, str] | None:
        """None for a healthy loss, else the level it calls for and why."""
        c = self.config
        if not math.isfinite(loss):
            return self._failure(step, Level.ELEVATED, f"non-finite loss {loss}")
        ewma = self.loss_ewma
        if self.first_loss is None:
            self.first_loss = abs(loss)
        scale = (
            None if ewma is None else max(ewma, c.loss_floor_fraction * self.first_loss)
        )
        if scale is not None and scale > 0 and loss > c.explosion_factor * scale:
            return self._failure(
                step,
                Level.ELEVATED,
                f"loss explosion {loss:.4g} > {c.explosion_factor}x {scale:.4g} "
                f"(EWMA {ewma:.4g})",
            )
        self.loss_ewma = (
            loss if ewma is None else c.ewma_beta * ewma + (1 - c.ewma_beta) * loss
        )
        if scale is not None and scale > 0 and loss > c.spike_factor * scale:
            self._last_trouble = step
            return Level.NOTICE, f"loss spike {loss:.4g} > {c.spike_factor}x EWMA"
        return None

    def failure(self, step: int, level: Level, reason: str) -> tuple[Level, str]:
        """Record a failure from outside (missed deadline, failed restore)."""
        return self._failure(step, level, reason)

    def _failure(self, step: int, level: Level, reason: str) -> tuple[Level, str]:
        c = self.config
        self._failures.append(step)
        while self._failures and self._failures[0] <= step - c.window_steps:
            self._failures.popleft()
        self._last_trouble = step
        if len(self._failures) >= c.halt_after:
            return Level.HALT, f"{reason}; {len(self._failures)} failures in window"
        if len(self._failures) >= c.conservative_after:
            return max(level, Level.CONSERVATIVE), (
                f"{reason}; {len(self._failures)} failures in window"
            )
        return level, reason

    def calm(self, step: int) -> bool:
        """Decay to L0 after enough healthy steps; True when it just did."""
        if self.level and step - self._last_trouble >= self.config.calm_steps:
            self.level = Level.NORMAL
            return True
        return False


class EmergencyGuard:
    """The ladder and the actions its levels name: L2 rolls back, L3 makes the
    policy conservative, L4 halts the run. The loop reports troubles here;
    what to do about them is decided here alone."""

    def __init__(
        self,
        telemetry: Telemetry,
        hooks: Hooks,
        *,
        rollback: Callable[[str], object],
        conservative: Callable[[int, str], None],
    ) -> None:
        self.ladder = EmergencyLadder()
        self.tm = telemetry
        self.hooks = hooks
        self.rollback = rollback  # the trainer's rollback to the last good state
        self.conservative = conservative  # tells the policy, if there is one
        self.auto_halt_reason: str | None = None

    @property
    def healthy(self) -> bool:
        """Whether a snapshot or checkpoint taken now counts as good."""
        return self.ladder.level <= Level.NOTICE

    def judge_loss(self, step: int, loss: float) -> bool:
        """Classify a loss; act on the ladder. True when the step must not count."""
        verdict = self.ladder.classify_loss(step, loss)
        if verdict is None:
            return False
        level, reason = verdict
        self.escalate(step, level, reason)
        return level >= Level.ELEVATED

    def failure(
        self, step: int, level: Level, reason: str, *, restored: bool = False
    ) -> None:
        """A failure from outside the loss (a slow rollback, a bad validation).
        `restored`: the failure was a restore that completed, only late; the
        ladder still climbs (and halts on the sixth), but its L2 action, a
        further rollback, would only replace the state just restored (the one
        an operator asked for) with an older one, and being timed against the
        same deadline would feed itself."""
        level, reason = self.ladder.failure(step, level, reason)
        self.escalate(step, level, reason, roll_back=not restored)

    def escalate(
        self, step: int, level: Level, reason: str, *, roll_back: bool = True
    ) -> None:
        self.ladder.level = max(self.ladder.level, level)
        severity = "critical" if level >= Level.CONSERVATIVE else "warning"
        self.tm.metric("tolaria.emergency.level", float(level))
        self.tm.event(
            "tolaria.emergency.escalated",
            severity,
            {"level": int(level), "name": level.name, "reason": reason},
        )
        if level >= Level.HALT:
            self.auto_halt_reason = f"L4 emergency: {reason}"
            self.hooks.halt_info.setdefault("reason", self.auto_halt_reason)
            self.hooks.halt.set()
            return
        if level >= Level.CONSERVATIVE:
            self.conservative(step, reason)
        if level >= Level.ELEVATED and roll_back:
            self._emergency_rollback(step, reason)

    def _emergency_rollback(self, step: int, reason: str) -> None:
        try:
            self.rollback(f"emergency: {reason}")
        except Exception as exc:
            self.tm.event(
                "tolaria.rollback.restore_failed", "critical", {"reason": describe(exc)}
            )
            self.escalate(step, Level.HALT, f"rollback failed: {describe(exc)}")

    def halt_reason(self) -> str:
        """L4: record the halt and say why it happened."""
        reason = str(
            self.hooks.halt_info.get("reason")
            or self.auto_halt_reason
            or "emergency_halt"
        )
        self.ladder.level = Level.HALT
        self.tm.metric("tolaria.emergency.level", float(Level.HALT))
        self.tm.count("tolaria.emergency.halts_total")
        return reason

    def calm(self, step: int) -> None:
        if self.ladder.calm(step):
            self.tm.metric("tolaria.emergency.level", 0.0)
