"""Karn's blueprint catalogue and the built-in tasks, as plain data.

The gateway serves these without importing torch; the engine builds modules from
the same entries (workers/engine/blueprints.py), so the two cannot drift apart.
"""

from typing import Literal

from pydantic import BaseModel, Field

# Re-exported: it lived here before api_schemas/plugins.py.
from api_schemas.plugins import is_import_path as is_import_path

Tier = Literal["safe", "experimental", "high_risk"]
# A slot's activation per sample: (width,) a vector, (C, H, W) an image, (C, L)
# a sequence (a 1-D CNN host's).
SlotKind = Literal["vector", "image", "sequence"]


class BlueprintRead(BaseModel):
    name: str = Field(description="Blueprint name.")
    description: str = Field(description="What it builds.")
    tier: Tier = Field(description="safe|experimental|high_risk.")
    risk: float = Field(ge=0, le=1, description="0 (safe) .. 1; >= 0.8 is quarantined.")
    slot_kinds: list[SlotKind] = Field(description="Slot shapes it fits.")
    params_min: int = Field(description="Smallest parameter count allowed.")
    params_max: int = Field(description="Largest parameter count allowed.")
    params_estimate: int = Field(description="Parameters at a reference width of 64.")


class TaskRead(BaseModel):
    name: str = Field(description="Task name.")
    description: str = Field(description="What it is.")
    input_shape: list[int] | None = Field(
        description="One sample's shape (null for a plug-in: known once built)."
    )
    classes: int | None = Field(description="Number of classes (null for a plug-in).")
    slots: list[str] = Field(
        default_factory=list, description="Slot names of the default host."
    )
    builtin: bool = Field(
        default=True,
        description="Built in, or a plug-in installed on registered workers "
        "(entry point `esper.tasks`).",
    )


def plugin_task(name: str) -> TaskRead:
    """A plug-in a worker reported: only its name is known to the gateway."""
    return TaskRead(
        name=name,
        description="Plug-in task installed on workers (entry point esper.tasks).",
        input_shape=None,
        classes=None,
        builtin=False,
    )


def _mlp_params(w: int, hidden: int) -> int:
    return 2 * w * hidden + w + hidden


BLUEPRINTS: list[BlueprintRead] = [
    BlueprintRead(
        name="residual_mlp",
        tier="safe",
        risk=0.1,
        slot_kinds=["vector"],
        description="Residual bottleneck MLP: Linear(w, w/2) -> GELU -> Linear.",
        params_min=8,
        params_max=50_000_000,
        params_estimate=_mlp_params(64, 32),
    ),
    BlueprintRead(
        name="low_rank",
        tier="safe",
        risk=0.05,
        slot_kinds=["vector", "sequence"],
        description="Low-rank adapter: Linear(w, r) -> Linear(r, w), r=8 "
        "(over the channels at each position on a sequence slot).",
        params_min=8,
        params_max=50_000_000,
        params_estimate=2 * 64 * 8 + 64,
    ),
    BlueprintRead(
        name="conv3x3",
        tier="safe",
        risk=0.2,
        slot_kinds=["image"],
        description="3x3 conv block: Conv -> BatchNorm -> ReLU -> Conv.",
        params_min=8,
        params_max=50_000_000,
        params_estimate=2 * 64 * 64 * 9 + 3 * 64,
    ),
    BlueprintRead(
        name="depthwise_separable",
        tier="safe",
        risk=0.15,
        slot_kinds=["image"],
        description="Depthwise 3x3 conv then pointwise 1x1 conv.",
        params_min=8,
        params_max=50_000_000,
        params_estimate=64 * 9 + 64 * 64 + 128,
    ),
    BlueprintRead(
        name="conv1d",
        tier="safe",
        risk=0.2,
        slot_kinds=["sequence"],
        description="1-D conv block (kernel 3): Conv1d -> BatchNorm -> ReLU -> Conv1d.",
        params_min=8,
        params_max=50_000_000,
        params_estimate=2 * 64 * 64 * 3 + 4 * 64,
    ),
    BlueprintRead(
        name="depthwise_separable_1d",
        tier="safe",
        risk=0.15,
        slot_kinds=["sequence"],
        description="Depthwise 1-D conv (kernel 5) then pointwise conv.",
        params_min=8,
        params_max=50_000_000,
        params_estimate=64 * 5 + 64 * 64 + 128,
    ),
    BlueprintRead(
        name="squeeze_excite",
        tier="experimental",
        risk=0.3,
        slot_kinds=["image", "vector", "sequence"],
        description="Squeeze-excitation channel attention (reduction 4).",
        params_min=4,
        params_max=50_000_000,
        params_estimate=2 * 64 * 16 + 80,
    ),
    BlueprintRead(
        name="norm",
        tier="safe",
        risk=0.05,
        slot_kinds=["vector", "image", "sequence"],
        description="Normalisation block: LayerNorm/GroupNorm with affine.",
        params_min=2,
        params_max=1_000_000,
        params_estimate=128,
    ),
    BlueprintRead(
        name="noise",
        tier="high_risk",
        risk=0.9,
        slot_kinds=["vector", "image", "sequence"],
        description="Deliberately harmful: random projection that injects "
        "noise. Exists to prove the gates cull bad seeds.",
        params_min=4,
        params_max=50_000_000,
        params_estimate=64 * 64,
    ),
]
BLUEPRINTS_BY_NAME = {b.name: b for b in BLUEPRINTS}

TASKS: list[TaskRead] = [
    TaskRead(
        name="digits",
        description="8x8 handwritten digits shipped with "
        "scikit-learn (1797 images, real data); MLP host.",
        input_shape=[64],
        classes=10,
        slots=["block0", "block1"],
    ),
    TaskRead(
        name="spirals",
        description="Synthetic interleaved spirals, hard for a small MLP; MLP host.",
        input_shape=[2],
        classes=3,
        slots=["block0", "block1"],
    ),
    TaskRead(
        name="synthetic-images",
        description="Random 3x32x32 images labelled by "
        "a fixed random teacher network; CNN host.",
        input_shape=[3, 32, 32],
        classes=10,
        slots=["block0", "block1", "block2"],
    ),
    TaskRead(
        name="mnist1d",
        description="MNIST-1D: 4000 training and 1000 validation sequences of "
        "length 40, generated in code (PyPI mnist1d, fixed arguments, no "
        "download). MLP host (width 32, 2 blocks) by default; "
        '`model.options.host: "cnn"` picks a 1-D CNN host (width 8, 3 blocks). '
        "Both default hosts are capacity-limited.",
        input_shape=[40],
        classes=10,
        slots=["block0", "block1"],
    ),
]
TASKS_BY_NAME = {t.name: t for t in TASKS}


# The default host of each built-in task. mnist1d has two hosts
# (`model.options.host`: "mlp", the default, or "cnn"); "mnist1d-cnn" keys the
# CNN host's defaults. The small defaults are capacity-limited: a wider host
# reaches a clearly higher accuracy (docs/tasks.md has the figures).
DEFAULT_DEPTH = {
    "digits": 2,
    "spirals": 2,
    "synthetic-images": 3,
    "mnist1d": 2,
    "mnist1d-cnn": 3,
}
DEFAULT_WIDTH = {
    "digits": 64,
    "spirals": 32,
    "synthetic-images": 32,
    "mnist1d": 32,
    "mnist1d-cnn": 8,
}


def host_key(task: str, host: object = None) -> str:
    """The DEFAULT_DEPTH/DEFAULT_WIDTH key of a built-in task's host."""
    return "mnist1d-cnn" if task == "mnist1d" and host == "cnn" else task


def task_slots(task: str, depth: int | None, host: object = None) -> list[str] | None:
    """Slot names of a built-in task's host: `block0..block{depth-1}`
    (`host`: the spec's `model.options.host`, where the task has two).

    The engine's hosts name their slots exactly so; None for user tasks (their
    slots are known only once the task is built on a worker).
    """
    if task not in TASKS_BY_NAME:
        return None
    return [f"block{i}" for i in range(depth or DEFAULT_DEPTH[host_key(task, host)])]
