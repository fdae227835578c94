"""Run submission and run state (API.md, Runs)."""

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from api_schemas.enums import BlendMode, GradientAggregation, RestartPolicy, RunState
from api_schemas.pages import Page
from api_schemas.policy_options import HeuristicOptions, LearnedOptions
from api_schemas.strict import Strict

ShortStr = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LABEL_KEY = re.compile(r"^[A-Za-z0-9_.\-/]{1,63}$")
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY.pattern)]
# No `|`: it separates labels in the stored text the `?label=` filter matches.
LabelValue = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^|]*$")]
DeviceStr = Annotated[str, StringConstraints(pattern=r"^(auto|cpu|cuda|cuda:\d{1,2})$")]
Scalar = Annotated[str, StringConstraints(max_length=200)] | int | float | bool

# One run spans at most one host's devices (ranks are processes of one worker);
# the gateway bounds it further by what registered workers report (422).
MAX_DEVICES = 16
DeviceId = Annotated[int, Field(ge=0, le=63)]


def _distinct(ids: list[int]) -> list[int]:
    if len(set(ids)) != len(ids):
        raise ValueError("device ids must be distinct")
    return ids


DeviceList = Annotated[
    list[DeviceId],
    Field(min_length=1, max_length=MAX_DEVICES),
    AfterValidator(_distinct),
]
DeviceCount = Annotated[int, Field(ge=1, le=MAX_DEVICES)]


class ModelOptions(Strict):
    """Host architecture options; each task documents which it reads."""

    width: int | None = Field(
        default=None,
        ge=1,
        le=8192,
        description="Hidden width (MLP) or base channels (CNN).",
    )
    depth: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Number of hidden blocks (each ends in a slot).",
    )
    options: dict[ShortStr, Scalar] = Field(
        default_factory=dict,
        max_length=32,
        description="Task-specific extras for user tasks.",
    )


class Morphogenesis(Strict):
    """How (and whether) Tamiyo grows the host during the run."""

    enabled: bool = Field(default=True, description="Let the policy germinate seeds.")
    policy: ShortStr = Field(
        default="heuristic",
        description="`heuristic` or an import path `package.module:factory`.",
    )
    max_seeds: int = Field(
        default=4, ge=0, le=64, description="Most seeds germinated over the run."
    )
    blueprints: list[ShortStr] | None = Field(
        default=None,
        max_length=64,
        description="Blueprints the policy may use (null: every non-quarantined one).",
    )
    slots: list[ShortStr] | None = Field(
        default=None, max_length=64, description="Slots it may use (null: all)."
    )
    blend_mode: BlendMode = Field(
        default=BlendMode.convex, description="How a blending seed joins the host."
    )
    blend_steps: int = Field(
        default=20, ge=1, le=100000, description="Optimizer steps of the alpha ramp."
    )
    gates: dict[ShortStr, float] = Field(
        default_factory=dict,
        max_length=32,
        description="Overrides of gate thresholds (see DOMAIN.md / docs).",
    )
    decision_deadline_ms: float = Field(
        default=5.0, gt=0, le=10000, description="Tamiyo's decision deadline."
    )
    gradient_aggregation: GradientAggregation = Field(
        default=GradientAggregation.sum,
        description="How the task-loss gradients that reach the host through "
        "several blended seeds combine: `sum` (plain backpropagation) or "
        "`pcgrad` (each seed's path's gradient projected off the others' where "
        "they conflict, Yu et al. 2020; one device only; docs/engine.md).",
    )
    policy_options: dict[ShortStr, Scalar] = Field(
        default_factory=dict,
        max_length=32,
        description="Options of the policy: for `heuristic` the fields of "
        "HeuristicOptions (docs/engine.md); a plug-in's factory takes them as "
        "keyword arguments.",
    )

    @model_validator(mode="after")
    def _known_policy_options(self) -> "Morphogenesis":
        # The built-in's options are checked here (a 422 at submission); a
        # plug-in's are its own business, checked by its factory on the worker.
        builtin: dict[str, type[HeuristicOptions] | type[LearnedOptions]] = {
            "heuristic": HeuristicOptions,
            "learned": LearnedOptions,
        }
        if self.policy in builtin:
            try:
                builtin[self.policy].model_validate(self.policy_options)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                    for e in exc.errors()
                )
                raise ValueError(f"policy_options: {problems}") from None
        return self


class ResumeFrom(Strict):
    """Another run's checkpoint to start from (its grown seeds included)."""

    run_id: ShortStr = Field(description="The run whose checkpoint to start from.")
    checkpoint_id: ShortStr | None = Field(
        default=None, description="Its checkpoint; null: the latest good one."
    )


class RunCreate(Strict):
    """The RunSpec: what to train and how (POST /api/v1/runs)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "digits-demo",
                    "task": "digits",
                    "model": {"width": 64, "depth": 2},
                    "epochs": 5,
                    "batch_size": 64,
                    "learning_rate": 0.01,
                    "seed": 0,
                    "device": "cpu",
                    "morphogenesis": {"enabled": True, "max_seeds": 2},
                    "labels": {"team": "research"},
                }
            ]
        },
    )

    name: ShortStr | None = Field(default=None, description="Display name.")
    task: ShortStr = Field(
        description="A registered task (`digits`, `spirals`, "
        "`synthetic-images`) or `package.module:factory`."
    )
    model: ModelOptions = Field(
        default_factory=ModelOptions, description="Host architecture options."
    )
    epochs: int = Field(default=5, ge=1, le=100000, description="Epochs to train.")
    batch_size: int = Field(default=64, ge=1, le=65536, description="Batch size.")
    micro_batches: int = Field(
        default=1, ge=1, le=1024, description="Micro-batches per optimizer step."
    )
    learning_rate: float = Field(
        default=0.01, gt=0, le=10, description="Learning rate."
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="RNG seed.")
    device: DeviceStr = Field(
        default="auto", description="`auto`|`cpu`|`cuda`|`cuda:N`."
    )
    devices: DeviceCount | DeviceList | None = Field(
        default=None,
        description="Several devices for one run: a count (1-16) or a list of "
        "distinct GPU ids. On CPU, a count of gloo ranks on one worker's cores. "
        "422 `devices_unavailable` when no registered worker has that many.",
    )
    morphogenesis: Morphogenesis = Field(
        default_factory=Morphogenesis, description="Growth settings."
    )
    checkpoint_every: int = Field(
        default=0,
        ge=0,
        le=10**7,
        description="Checkpoint every N steps (0: each epoch).",
    )
    checkpoint_keep: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="Checkpoints kept in the artifact store: the newest N, plus "
        "the best by validation accuracy and the newest good one.",
    )
    max_steps: int | None = Field(
        default=None,
        ge=1,
        le=10**9,
        description="Stop after this many optimizer steps.",
    )
    restart_policy: RestartPolicy = Field(
        default=RestartPolicy.fail, description="On worker loss: resume or fail."
    )
    max_restarts: int = Field(
        default=3,
        ge=0,
        le=10,
        description="With `restart_policy: resume`, how many times the run may "
        "resume after losing its worker before it fails.",
    )
    resume_from: ResumeFrom | None = Field(
        default=None,
        description="Start from another run's checkpoint (continue or fork): its "
        "model, seeds and optimizer state, with this spec's epochs, learning "
        "rate and labels; steps count from 0.",
    )
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, max_length=32, description="Free labels for filtering."
    )

    @model_validator(mode="after")
    def _pcgrad_on_one_device(self) -> "RunCreate":
        # PCGrad is not linear: projecting each rank's shard and averaging is
        # not projecting the global batch's gradient (docs/engine.md).
        devices = self.devices
        count = len(devices) if isinstance(devices, list) else devices or 1
        aggregation = self.morphogenesis.gradient_aggregation
        if aggregation is GradientAggregation.pcgrad and count > 1:
            raise ValueError(
                "morphogenesis.gradient_aggregation pcgrad runs on one device"
            )
        return self


RunSpec = RunCreate


class RunMetrics(BaseModel):
    loss: float | None = Field(default=None, description="Latest training loss.")
    accuracy: float | None = Field(
        default=None, description="Latest training accuracy."
    )
    val_loss: float | None = Field(default=None, description="Latest validation loss.")
    val_accuracy: float | None = Field(
        default=None, description="Latest validation accuracy."
    )
    step_time_ms: float | None = Field(default=None, description="Latest step time.")


class RunRead(BaseModel):
    """A run as the API shows it."""

    id: str = Field(description="Run id (UUID).")
    name: str | None = Field(default=None, description="Display name.")
    state: RunState = Field(description="Lifecycle state.")
    spec: RunCreate = Field(description="The submitted spec.")
    worker_id: str | None = Field(default=None, description="Worker holding the run.")
    created_at: datetime = Field(description="Submission time (UTC).")
    started_at: datetime | None = Field(default=None, description="Start of training.")
    finished_at: datetime | None = Field(default=None, description="Terminal time.")
    epoch: int = Field(default=0, description="Current epoch.")
    step: int = Field(default=0, description="Optimizer steps done.")
    metrics: RunMetrics = Field(
        default_factory=RunMetrics, description="Latest metrics."
    )
    seeds: dict[str, int] = Field(default_factory=dict, description="Seeds by stage.")
    error: str | None = Field(default=None, description="Why it failed.")
    halt_reason: str | None = Field(default=None, description="Why it was halted.")
    result: dict[str, Any] = Field(
        default_factory=dict, description="Final figures and flags."
    )
    attempt: int = Field(
        default=1,
        description="1 for the first attempt, +1 each time the run resumes after "
        "losing its worker.",
    )
    restarts: int = Field(default=0, description="Times the run has resumed so far.")


class RunPage(Page[RunRead]):
    """A page of runs."""


class CheckpointRead(BaseModel):
    """One of the run's checkpoints in the artifact store."""

    id: str = Field(description="Checkpoint id (`rollback`'s `checkpoint_id`).")
    step: int = Field(description="Optimizer step.")
    epoch: int = Field(description="Epoch.")
    created_at: datetime | None = Field(default=None, description="When written.")
    bytes: int = Field(default=0, description="Size in the artifact store.")
    good: bool = Field(
        default=True,
        description="Taken while the run was healthy, and its upload verified "
        "against the sha256 of its manifest.",
    )
    artifact: str | None = Field(
        default=None,
        description="Its name among the run's artifacts (for the download).",
    )
    sha256: str | None = Field(default=None, description="sha256 of its content.")
    val_accuracy: float | None = Field(
        default=None, description="The run's latest validation accuracy at it."
    )
