"""A run's seeds and their lineage (API.md, Runs: Seed).

Kept by the gateway in its database from the worker's seed events, so a seed's
history outlives the run's telemetry retention.
"""

from pydantic import BaseModel, Field

from api_schemas.enums import SeedOutcome, SeedStage


class SeedStageEntry(BaseModel):
    """One stage the seed entered, when and why."""

    stage: SeedStage = Field(description="The stage entered.")
    step: int = Field(description="Optimizer step of the change.")
    reason: str = Field(description="Why (a gate's verdict, an operator, a restore).")


class SeedGate(BaseModel):
    """One gate's verdict on the seed (G0-G5, DOMAIN.md)."""

    gate: str = Field(description="Gate name, `G0`..`G5`.")
    passed: bool = Field(description="Whether the seed passed it.")
    step: int = Field(description="Optimizer step of the verdict.")
    reason: str = Field(description="The gate's reason.")
    figures: dict[str, float | None] = Field(
        default_factory=dict,
        description="The measured figures the gate judged (a non-finite one is null).",
    )


class SeedRead(BaseModel):
    """A seed the run germinated, live or ended, with its lineage."""

    seed_id: str = Field(description="Seed id, unique within the run.")
    slot: str = Field(description="Slot it was planted in.")
    blueprint: str = Field(description="Blueprint name.")
    stage: SeedStage = Field(
        description="Current stage; an ended seed keeps FOSSILIZED or CULLED "
        "(its slot's embargo and reset after a cull are in `history`)."
    )
    alpha: float = Field(default=0.0, description="Latest blend alpha.")
    params: int = Field(default=0, description="Trainable parameters.")
    germinated_step: int = Field(description="Optimizer step of germination.")
    ended_step: int | None = Field(
        default=None, description="Step it was fossilised or culled; null while live."
    )
    outcome: SeedOutcome = Field(description="`live`, `fossilised` or `culled`.")
    reason: str | None = Field(default=None, description="Last change's reason.")
    history: list[SeedStageEntry] = Field(
        default_factory=list, description="Every stage entered, oldest first."
    )
    gates: list[SeedGate] = Field(
        default_factory=list,
        description="Gate verdicts, oldest first: each pass that moved the seed "
        "on, and each failure (G1's routine passes are not recorded).",
    )
