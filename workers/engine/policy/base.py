"""The policy plug-in interface: inputs in, one decision out.

A policy is any object with `decide(inputs: PolicyInputs) -> Decision`. Give
`spec.morphogenesis.policy = "package.module:factory"`; the factory is called
with `spec.morphogenesis.policy_options` as keyword arguments and returns the
policy (loader.py).
"""

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Action = Literal["wait", "germinate", "cull", "advance"]


@dataclass
class SlotState:
    name: str
    kind: str
    stage: str
    free: bool
    params_added: int
    seed_id: str | None = None


@dataclass
class PolicyInputs:
    step: int
    epoch: int
    loss: float | None
    loss_ewma: float | None
    loss_trend: float | None  # relative EWMA change over the plateau window
    accuracy: float | None  # training accuracy, the latest measured batch
    val_loss: float | None
    grad_norm: float | None
    step_ms: float | None
    slots: list[SlotState]
    blueprints: list[dict[str, Any]]  # allowed catalogue entries (name, risk, kinds)
    seeds_germinated: int
    max_seeds: int
    live_seeds: int
    conservative: bool
    val_accuracy: float | None = None  # the latest validation (epoch end)
    total_steps: int | None = None  # the run's planned optimizer steps
    # Outcomes in this run so far, by blueprint and by slot:
    # {"low_rank": {"fossilized": 1, "culled": 2}}.
    blueprint_record: dict[str, dict[str, int]] = field(default_factory=dict)
    slot_failures: dict[str, int] = field(default_factory=dict)  # culls per slot

    def summary(self) -> dict[str, Any]:
        """The inputs as they go into the decision event."""
        return {
            "step": self.step,
            "loss_ewma": self.loss_ewma,
            "loss_trend": self.loss_trend,
            "accuracy": self.accuracy,
            "val_accuracy": self.val_accuracy,
            "val_loss": self.val_loss,
            "grad_norm": self.grad_norm,
            "live_seeds": self.live_seeds,
            "seeds_germinated": self.seeds_germinated,
            "free_slots": [s.name for s in self.slots if s.free],
            "conservative": self.conservative,
            "total_steps": self.total_steps,
        }


@dataclass
class Decision:
    action: Action = "wait"
    slot: str | None = None
    blueprint: str | None = None
    seed_id: str | None = None
    reason: str = ""
    figures: dict[str, float] = field(default_factory=dict)


class Policy(Protocol):
    def decide(self, inputs: PolicyInputs) -> Decision: ...
