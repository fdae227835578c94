"""The built-in heuristic policy's options (`morphogenesis.policy_options`).

Declared here, next to the run spec, so the gateway refuses a bad option with a
422 before a run is queued, and the worker builds the policy from the same model.
A plug-in policy takes its own options: the spec passes them through unchecked.
"""

from pydantic import Field

from api_schemas.strict import Strict


class HeuristicOptions(Strict):
    """When the default policy grows the host, and with what."""

    warmup_fraction: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="No growth before this fraction of the planned steps.",
    )
    warmup_steps: int = Field(
        default=30, ge=0, le=10_000_000, description="...nor before this many steps."
    )
    last_fraction: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="No germination after this fraction of the planned steps: a "
        "seed needs the rest of the run to train, blend and prove itself.",
    )
    converged_accuracy: float = Field(
        default=0.99,
        ge=0.0,
        le=1.0,
        description="A host whose smoothed training accuracy reaches this has "
        "converged: nothing to add.",
    )
    max_generalisation_gap: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Training minus validation accuracy above this means the host "
        "overfits: more capacity would not help.",
    )
    fast_learning: float = Field(
        default=0.10,
        ge=0.0,
        le=10.0,
        description="A loss EWMA falling faster than this (relative, over the "
        "plateau window) still learns with what it has: wait.",
    )
    max_risk: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Riskiest blueprint it picks."
    )
    max_live: int = Field(
        default=1, ge=1, le=64, description="Seeds in their lifecycle at once."
    )
    accuracy_smoothing: float = Field(
        default=0.3,
        gt=0.0,
        le=1.0,
        description="EMA weight of the newest training accuracy (batch "
        "accuracies are noisy).",
    )


class LearnedOptions(Strict):
    """The learned policy's options (`policy: learned`, docs/growth.md)."""

    weights: str = Field(
        default="growth-bandit",
        pattern=r"^([a-z0-9][a-z0-9_.-]{0,63})?$",
        description="Name of the weights file shipped with the workers "
        "(workers/engine/policy/weights/NAME.json); never a path. Empty: none "
        "(only with `explore`).",
    )
    threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Least predicted fossilisation probability to germinate "
        "(null: the weights' own).",
    )
    explore: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Data collection: germinate a random candidate with this "
        "probability at each allowed decision, else wait.",
    )
    explore_seed: int = Field(default=0, ge=0, le=2**31 - 1)
    warmup_fraction: float = Field(default=0.05, ge=0.0, le=1.0)
    warmup_steps: int = Field(default=30, ge=0, le=10_000_000)
    last_fraction: float = Field(default=0.5, ge=0.0, le=1.0)
    max_live: int = Field(default=1, ge=1, le=64)
    max_risk: float = Field(default=0.5, ge=0.0, le=1.0)
