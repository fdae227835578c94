"""Tolaria's emergency ladder: L0 normal, L1 notice, L2 elevated (rollback),
L3 conservative (no growth), L4 halt.

Triggers are classified here; the trainer carries out the action the level
names. Failures are counted in a sliding window of steps so a burst escalates
while an isolated blip decays back to L0.
"""

import math
from collections import deque
from dataclasses import dataclass
from enum import IntEnum


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
        scale = None if ewma is None else max(ewma, c.loss_floor_fraction
                                              * self.first_loss)
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
