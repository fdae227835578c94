"""Simic's learned policy: a contextual bandit trained offline on field reports.

A decision of Tamiyo's is one action followed by one outcome (the seed it
planted fossilised or was culled): no later decision depends on it through a
state the policy controls, so the problem is a contextual bandit, not
sequential RL (docs/growth-variants/growth.md, "How it is measured"). The model is a
logistic regression over features of the decision's inputs as the field
report records them (`PolicyInputs.summary()`) and of the candidate action
(slot, blueprint): the predicted probability that a seed planted there, now,
fossilises. Each decision scores every allowed (free slot, fitting blueprint)
pair and germinates the best when its probability reaches the model's
threshold (the value given to waiting), else waits and says why. The hard
rules stay the heuristic's (warm-up, too late, seed budget, seeds live at
once): the bandit learns where, what and whether, not how to break budgets.

Weights are a JSON file (`format` `esper.policy.bandit`), named, never a path
from the spec: `weights: "growth-bandit"` reads `WEIGHTS_DIR/growth-bandit.json`
(shipped with the worker). No pickle, no code: numbers and names, validated.

`explore` (0..1) makes it the data-collection policy: at each decision the
hard rules allow, germinate with probability `explore` a uniformly random
candidate (else wait), recording the propensity of what it did.
"""

import json
import math
import random
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api_schemas.catalogue import BLUEPRINTS_BY_NAME
from api_schemas.policy_options import LearnedOptions
from workers.engine.policy.base import Decision, PolicyInputs, SlotState
from workers.engine.policy.heuristic import hard_rules

FORMAT = "esper.policy.bandit"
FORMAT_VERSION = 1
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
# Context features, from what a field report records of the inputs.
CONTEXT = (
    "progress",
    "accuracy",
    "val_accuracy",
    "gap",
    "loss_trend",
    "live_seeds",
    "seeds_germinated",
    "free_slots",
)


def context_features(summary: dict[str, Any]) -> dict[str, float]:
    """The decision's context from `PolicyInputs.summary()` (a field report's
    `inputs`): missing readings count as 0."""
    total = summary.get("total_steps") or 0
    acc = _num(summary.get("accuracy"))
    val = summary.get("val_accuracy")
    trend = max(-1.0, min(1.0, _num(summary.get("loss_trend"))))
    return {
        "progress": _num(summary.get("step")) / total if total else 0.0,
        "accuracy": acc,
        "val_accuracy": _num(val),
        "gap": acc - float(val) if val is not None else 0.0,
        "loss_trend": trend,
        "live_seeds": _num(summary.get("live_seeds")),
        "seeds_germinated": _num(summary.get("seeds_germinated")),
        "free_slots": float(len(summary.get("free_slots") or [])),
    }


def features(summary: dict[str, Any], slot: str, blueprint: str) -> dict[str, float]:
    """Context, the action (slot and blueprint one-hot, the blueprint's risk
    and size) and the blueprint's interaction with progress and accuracy."""
    out = context_features(summary)
    entry = BLUEPRINTS_BY_NAME.get(blueprint)
    out["risk"] = entry.risk if entry else 0.0
    out["log_params"] = math.log1p(entry.params_estimate) / 10 if entry else 0.0
    out[f"slot={slot}"] = 1.0
    out[f"bp={blueprint}"] = 1.0
    out[f"bp={blueprint}*progress"] = out["progress"]
    out[f"bp={blueprint}*accuracy"] = out["accuracy"]
    return out


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


class BanditWeights(BaseModel):
    """The weights file: a logistic regression over named features."""

    model_config = ConfigDict(extra="forbid")

    format: str = Field(pattern=f"^{re.escape(FORMAT)}$")
    format_version: int = Field(ge=1, le=FORMAT_VERSION)
    features: list[str] = Field(max_length=4096)
    weights: list[float] = Field(max_length=4096)
    bias: float
    threshold: float = Field(ge=0.0, le=1.0)
    trained: dict[str, Any] = Field(default_factory=dict)  # provenance, figures

    @model_validator(mode="after")
    def _same_length(self) -> "BanditWeights":
        if len(self.features) != len(self.weights):
            raise ValueError("features and weights differ in length")
        if not all(math.isfinite(w) for w in [*self.weights, self.bias]):
            raise ValueError("weights must be finite")
        return self

    def probability(self, x: dict[str, float]) -> float:
        z = self.bias + sum(
            w * x.get(name, 0.0)
            for name, w in zip(self.features, self.weights, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def weights_path(name: str, folder: Path | None = None) -> Path:
    """`folder/name.json` for a plain name (no separators, no `..`)."""
    if not NAME.match(name) or ".." in name:
        raise ValueError(f"policy weights {name!r}: not a plain name")
    base = (folder or WEIGHTS_DIR).resolve()
    path = (base / f"{name}.json").resolve()
    if path.parent != base:
        raise ValueError(f"policy weights {name!r}: outside {base}")
    return path


def load_weights(name: str, folder: Path | None = None) -> BanditWeights:
    path = weights_path(name, folder)
    if not path.is_file():
        raise FileNotFoundError(f"policy weights {name!r} not found ({path.name})")
    return BanditWeights.model_validate(json.loads(path.read_text()))


class LearnedPolicy:
    """`morphogenesis.policy: learned`; options: `LearnedOptions`."""

    def __init__(self, **options: Any) -> None:
        self.options = LearnedOptions.model_validate(options)
        o = self.options
        self.model = load_weights(o.weights) if o.weights else None
        if self.model is None and o.explore <= 0.0:
            raise ValueError("the learned policy needs weights (or explore > 0)")
        self.threshold = (
            o.threshold
            if o.threshold is not None
            else (self.model.threshold if self.model else 0.5)
        )
        self._random = random.Random(o.explore_seed)

    def decide(self, inputs: PolicyInputs) -> Decision:
        why_not = self._why_not_now(inputs)
        if why_not is not None:
            return Decision(reason=why_not)
        summary = inputs.summary()
        candidates = self._candidates(inputs)
        if not candidates:
            return Decision(reason="no free slot with a fitting blueprint")
        if self.options.explore > 0.0:
            return self._explore(candidates)
        assert self.model is not None
        model = self.model
        scored = [
            (model.probability(features(summary, slot, bp)), slot, bp)
            for slot, bp in candidates
        ]
        p, slot, bp = max(scored, key=lambda t: t[0])  # first of equals
        if p < self.threshold:
            return Decision(
                reason=f"predicted fossilisation {p:.2f} < {self.threshold:.2f} "
                f"(best: {bp} in {slot})",
                figures={"p": p},
            )
        return Decision(
            "germinate",
            slot=slot,
            blueprint=bp,
            reason=f"predicted fossilisation {p:.2f} (bandit)",
            figures={"p": p},
        )

    def _explore(self, candidates: list[tuple[str, str]]) -> Decision:
        rate = self.options.explore
        if self._random.random() >= rate:
            return Decision(reason="exploring: wait", figures={"propensity": 1 - rate})
        slot, bp = self._random.choice(candidates)
        return Decision(
            "germinate",
            slot=slot,
            blueprint=bp,
            reason="exploring: random germination",
            figures={"propensity": rate / len(candidates)},
        )

    def _why_not_now(self, inputs: PolicyInputs) -> str | None:
        """The heuristic's hard rules (docs/engine.md), nothing learned."""
        return hard_rules(self.options, inputs)

    def _candidates(self, inputs: PolicyInputs) -> list[tuple[str, str]]:
        free: list[SlotState] = [s for s in inputs.slots if s.free]
        return [
            (slot.name, str(b["name"]))
            for slot in free
            for b in inputs.blueprints
            if slot.kind in b["slot_kinds"] and b["risk"] <= self.options.max_risk
        ]
