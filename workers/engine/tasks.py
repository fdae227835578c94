"""Tasks: data plus a host with slots. Built-ins, entry-point plug-ins and,
where the deployment allows them, import paths (workers/engine/registry.py).

Data and the host are built once per run; built-in data is moved to the device
once and batches are cut by index there, so no per-step host-to-device copies.
A user task with `resident=False` keeps its training set in host memory and the
trainer copies each batch over (`workers/engine/batches.py`).
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from api_schemas.catalogue import DEFAULT_DEPTH, DEFAULT_WIDTH, host_key
from api_schemas.plugins import TASK_GROUP
from api_schemas.runs import ModelOptions
from workers.engine.hosts import CNNHost, Conv1DHost, MLPHost
from workers.engine.registry import UnknownName, resolve

LossFn = Callable[[Tensor, Tensor], Tensor]


@dataclass
class TaskOptions:
    """What a task factory receives: the spec's model options and the run seed."""

    width: int | None
    depth: int | None
    options: dict[str, Any]
    seed: int


@dataclass
class Task:
    """A task as the trainer uses it. User factories return one of these.

    `host` must contain `workers.engine.seeds.slot.SeedSlot` modules (the slots);
    `loss_fn` defaults to cross-entropy on class logits. `resident=False` keeps
    `train_x`/`train_y` in host memory (pinned on CUDA) for a training set that
    should not live on the device: each batch is then copied over as it is
    needed, the next one ahead of time. Validation data always moves.
    """

    name: str
    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    host: nn.Module
    loss_fn: LossFn = field(default=nn.functional.cross_entropy)
    resident: bool = True

    def to(self, device: torch.device) -> "Task":
        if self.resident:
            self.train_x = self.train_x.to(device)
            self.train_y = self.train_y.to(device)
        else:  # the trainer copies each batch over (workers/engine/batches.py)
            self.train_x = _in_host_memory(self.train_x, device)
            self.train_y = _in_host_memory(self.train_y, device)
        self.val_x, self.val_y = self.val_x.to(device), self.val_y.to(device)
        self.host = self.host.to(device)
        return self


def _in_host_memory(t: Tensor, device: torch.device) -> Tensor:
    # Page-locked for a CUDA run, so the per-step gather never waits on paging;
    # pinning needs CUDA, so on CPU the tensor is left as it is.
    t = t.cpu()
    return t.pin_memory() if device.type == "cuda" else t


class TaskError(ValueError):
    """The task is unknown or its factory failed to load."""


def _split(
    x: np.ndarray, y: np.ndarray, val_fraction: float = 0.2, split_seed: int = 0
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    # A fixed split seed keeps the validation set identical across run seeds,
    # so runs with different seeds are compared on the same data.
    order = np.random.default_rng(split_seed).permutation(len(x))
    cut = int(len(x) * (1 - val_fraction))
    tr, va = order[:cut], order[cut:]
    tx, ty = torch.tensor(x[tr], dtype=torch.float32), torch.tensor(y[tr])
    vx, vy = torch.tensor(x[va], dtype=torch.float32), torch.tensor(y[va])
    return tx, ty.long(), vx, vy.long()


def digits_task(opts: TaskOptions) -> Task:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0 - 0.5) / 0.5
    torch.manual_seed(opts.seed)
    width, depth = opts.width or DEFAULT_WIDTH["digits"], opts.depth
    host = MLPHost(64, width, depth or DEFAULT_DEPTH["digits"], 10)
    return Task("digits", *_split(x, data.target), host=host)


def make_spirals(
    n_per_class: int = 1000,
    classes: int = 3,
    turns: float = 1.75,
    noise: float = 0.25,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms; more turns make it harder for a small MLP."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, n_per_class)
        t = r * turns * 2 * np.pi + 2 * np.pi * c / classes
        t = t + rng.normal(0, noise / 2, n_per_class)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1) * 2)
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs), np.concatenate(ys)


def spirals_task(opts: TaskOptions) -> Task:
    x, y = make_spirals()
    torch.manual_seed(opts.seed)
    width, depth = opts.width or DEFAULT_WIDTH["spirals"], opts.depth
    host = MLPHost(2, width, depth or DEFAULT_DEPTH["spirals"], 3)
    return Task("spirals", *_split(x, y), host=host)


def synthetic_images_task(opts: TaskOptions) -> Task:
    n = int(opts.options.get("samples", 4096))
    gen = torch.Generator().manual_seed(1234)
    x = torch.randn(n, 3, 32, 32, generator=gen)
    teacher = nn.Sequential(
        nn.Conv2d(3, 8, 5, stride=4), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 7 * 7, 10)
    )
    with torch.no_grad():
        for p in teacher.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
        y = teacher(x).argmax(dim=1)
    torch.manual_seed(opts.seed)
    depth = opts.depth or DEFAULT_DEPTH["synthetic-images"]
    host = CNNHost(3, opts.width or DEFAULT_WIDTH["synthetic-images"], depth, 10)
    cut = int(n * 0.8)
    return Task("synthetic-images", x[:cut], y[:cut], x[cut:], y[cut:], host=host)


@lru_cache(maxsize=1)
def mnist1d_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST-1D generated in code with the package's fixed arguments (seed 42:
    4000 training and 1000 test sequences of length 40); never `get_dataset()`,
    which downloads. Cached: generating takes about a second and a half.

    The generator reseeds the global `random` and numpy RNGs; their states are
    put back, so a run's stream does not depend on whether this process had the
    data cached already."""
    from mnist1d.data import get_dataset_args, make_dataset

    saved = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
    arrays = (data["x"], data["y"], data["x_test"], data["y_test"])
    for a in arrays:
        a.setflags(write=False)  # shared by every run in this process
    return arrays


MNIST1D_HOSTS = ("mlp", "cnn")


def mnist1d_task(opts: TaskOptions) -> Task:
    """MNIST-1D: the package's own fixed test split is the validation set (the
    same for every run seed). `model.options.host`: "mlp" (default) or "cnn"
    (a 1-D CNN; both hosts read the same (N, 40) inputs)."""
    kind = str(opts.options.get("host", "mlp"))
    if kind not in MNIST1D_HOSTS:
        raise TaskError(f"mnist1d host must be one of {MNIST1D_HOSTS}, not {kind!r}")
    x, y, vx, vy = mnist1d_arrays()
    torch.manual_seed(opts.seed)
    key = host_key("mnist1d", kind)
    width, depth = opts.width or DEFAULT_WIDTH[key], opts.depth or DEFAULT_DEPTH[key]
    host: nn.Module = (
        MLPHost(40, width, depth, 10)
        if kind == "mlp"
        else Conv1DHost(1, width, depth, 10, length=40)
    )
    return Task(
        "mnist1d",
        torch.tensor(x, dtype=torch.float32),
        torch.tensor(y).long(),
        torch.tensor(vx, dtype=torch.float32),
        torch.tensor(vy).long(),
        host=host,
    )


BUILTIN_TASKS: dict[str, Callable[[TaskOptions], Task]] = {
    "digits": digits_task,
    "spirals": spirals_task,
    "synthetic-images": synthetic_images_task,
    "mnist1d": mnist1d_task,
}


def _factory(name: str) -> Callable[[TaskOptions], Task]:
    try:
        factory: Callable[[TaskOptions], Task] = resolve(
            name, "task", BUILTIN_TASKS, TASK_GROUP
        )
    except UnknownName as exc:
        raise TaskError(str(exc)) from exc
    except (ImportError, AttributeError) as exc:
        raise TaskError(f"cannot import task {name!r}: {exc}") from exc
    return factory


def load_task(name: str, model: ModelOptions, seed: int, device: torch.device) -> Task:
    """Build the named task on `device`: a built-in, a plug-in, or an allowed
    import path `pkg.module:factory`; anything else is refused unimported."""
    opts = TaskOptions(model.width, model.depth, dict(model.options), seed)
    factory = _factory(name)
    task = factory(opts)
    if not isinstance(task, Task):
        raise TaskError(
            f"task factory for {name!r} returned {type(task).__name__}, "
            "expected workers.engine.tasks.Task"
        )
    return task.to(device)
