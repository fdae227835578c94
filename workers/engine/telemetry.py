"""Packet construction: plain dicts, built in a few microseconds.

The trainer updates `step`/`epoch` once per step; every subsystem emits through
the same `Telemetry`, so packets carry consistent positions.
"""

from collections.abc import Callable, Sequence
from typing import Any

Packet = dict[str, Any]


class Telemetry:
    def __init__(self, emit: Callable[[Packet], None]) -> None:
        self._emit = emit
        self.step = 0
        self.epoch = 0
        self.counters: dict[str, int] = {}

    def metric(
        self,
        name: str,
        value: float | None,
        attrs: dict[str, Any] | None = None,
        step: int | None = None,
    ) -> None:
        self._emit(
            {
                "kind": "metric",
                "name": name,
                "value": value,
                "step": self.step if step is None else step,
                "epoch": self.epoch,
                "level": "info",
                "attrs": attrs or {},
            }
        )

    def step_metrics(self, step: int, values: Sequence[tuple[str, float]]) -> None:
        """The per-step metrics: one plain dict each, built without keyword
        plumbing (this runs every optimizer step)."""
        emit, epoch = self._emit, self.epoch
        for name, value in values:
            emit(
                {
                    "kind": "metric",
                    "name": name,
                    "value": value,
                    "step": step,
                    "epoch": epoch,
                    "level": "info",
                    "attrs": {},
                }
            )

    def event(
        self,
        name: str,
        level: str = "info",
        attrs: dict[str, Any] | None = None,
        value: float | str | None = None,
    ) -> None:
        self._emit(
            {
                "kind": "event",
                "name": name,
                "value": value,
                "step": self.step,
                "epoch": self.epoch,
                "level": level,
                "attrs": attrs or {},
            }
        )

    def seed(self, name: str, value: float | str, attrs: dict[str, Any]) -> None:
        self._emit(
            {
                "kind": "seed",
                "name": name,
                "value": value,
                "step": self.step,
                "epoch": self.epoch,
                "level": "info",
                "attrs": attrs,
            }
        )

    def state(self, name: str, attrs: dict[str, Any] | None = None) -> None:
        self._emit(
            {
                "kind": "state",
                "name": name,
                "value": name,
                "step": self.step,
                "epoch": self.epoch,
                "level": "info",
                "attrs": attrs or {},
            }
        )

    def count(self, name: str, by: int = 1) -> int:
        """Bump a named counter and emit its running total as a metric."""
        total = self.counters.get(name, 0) + by
        self.counters[name] = total
        self.metric(name, float(total))
        return total
