"""The losses each slot's gates read, and their read-back from the device.

On CUDA the probe, host and blend losses are queued as device tensors, so a
step never waits for the GPU to hand a loss to a gate; they become floats when
a gate reads them (`resolve_signals`, a sync) or, for G2, one decision later
through a `Readback` started at the previous one (no sync).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from torch import Tensor

from workers.engine.readback import Readback

Losses = list[float | Tensor]
Spans = dict[str, list[int]]
Pending = tuple[Readback, Spans]


@dataclass
class SlotSignals:
    """What the gates of one slot's current seed have measured so far."""

    probe: Losses = field(default_factory=list)  # G2: loss, seed fully active
    host: Losses = field(default_factory=list)  # G2: the host's loss, same steps
    blend: Losses = field(default_factory=list)  # G3: batch losses while blending
    step_ms: float | None = None  # G4: step time before the seed took part
    baseline: float | None = None  # G3: the host loss when G2 passed
    in_flight: Pending | None = None  # G2's losses being copied back (CUDA)

    def lists(self) -> dict[str, Losses]:
        return {"probe": self.probe, "host": self.host, "blend": self.blend}

    def resolve(self, *keys: str) -> None:
        resolve_signals(self.lists(), *keys)

    def g2_losses(self, deferred: bool) -> tuple[list[float], list[float]]:
        """G2's probe and host losses as floats. Deferred (CUDA): those queued
        before the previous decision, copied back since then without a sync;
        the newer ones start their copy now and count at the next decision."""
        if not deferred:
            self.resolve("probe", "host")  # every entry a float from here
            return cast(list[float], self.probe), cast(list[float], self.host)
        lists = self.lists()
        settle_signals(lists, self.in_flight)
        self.in_flight = start_readback(lists, "probe", "host")
        probe = [v for v in self.probe if not isinstance(v, Tensor)]
        host = [v for v in self.host if not isinstance(v, Tensor)]
        count = min(len(probe), len(host))
        return probe[:count], host[:count]

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint's form; call `resolve` first (floats only)."""
        saved: dict[str, Any] = {
            "probe": list(self.probe),
            "host": list(self.host),
            "blend": list(self.blend),
            "step_ms": self.step_ms,
        }
        if self.baseline is not None:  # present only once G2 passed
            saved["baseline"] = self.baseline
        return saved

    @classmethod
    def from_dict(cls, saved: Mapping[str, Any]) -> "SlotSignals":
        return cls(
            probe=list(saved.get("probe", [])),
            host=list(saved.get("host", [])),
            blend=list(saved.get("blend", [])),
            step_ms=saved.get("step_ms"),
            baseline=saved.get("baseline"),
        )


def start_readback(signals: Mapping[str, Losses], *keys: str) -> Pending | None:
    """Copy the device tensors queued in these signal lists back, no sync."""
    spans: Spans = {}
    tensors: Losses = []
    for key in keys:
        at = [i for i, v in enumerate(signals.get(key) or []) if isinstance(v, Tensor)]
        if at:
            spans[key] = at
            tensors += [signals[key][i] for i in at]
    return (Readback(tensors), spans) if tensors else None


def settle_signals(signals: Mapping[str, Losses], pending: Pending | None) -> None:
    """Put a finished readback's floats in place of the tensors it copied."""
    if pending is None:
        return
    reading, spans = pending
    values = iter(reading.values())
    for key, at in spans.items():
        for i in at:
            signals[key][i] = next(values)


def resolve_signals(signals: Mapping[str, Losses], *keys: str) -> None:
    """Turn the device tensors queued in these signal lists into floats now."""
    settle_signals(signals, start_readback(signals, *keys))
