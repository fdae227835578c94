"""Helpers shared by the engine scenarios: specs, trainers and step timing."""

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from api_schemas.plugins import ALLOW_ENV
from api_schemas.runs import RunCreate
from workers.engine.hooks import Hooks
from workers.engine.trainer import Trainer


def make_spec(
    task: str,
    width: int,
    depth: int | None,
    batch_size: int,
    steps: int,
    lr: float = 0.001,
    **extra: Any,
) -> RunCreate:
    fields: dict[str, Any] = {
        "task": task,
        "model": {"width": width, "depth": depth},
        "epochs": 100000,
        "batch_size": batch_size,
        "learning_rate": lr,
        "max_steps": steps,
        "checkpoint_every": 10**7,
        "device": "cpu",
        "morphogenesis": {"enabled": False},
    }
    fields.update(extra)
    return RunCreate(**fields)


def intervals_ms(stamps: list[float], skip: int) -> list[float]:
    """Wall time between consecutive step boundaries, after a warm-up."""
    return [
        (b - a) * 1000 for a, b in zip(stamps[skip:], stamps[skip + 1 :], strict=False)
    ]


@contextlib.contextmanager
def bench_trainer(spec: RunCreate, hooks: Hooks, **kwargs: Any) -> Iterator[Trainer]:
    """A Trainer whose checkpoints go to a temporary folder, removed afterwards."""
    folder = temp_dir()
    try:
        yield Trainer(spec, hooks, run_id="bench", checkpoint_dir=folder, **kwargs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="esper-load-"))


def now() -> float:
    return time.perf_counter()


@contextlib.contextmanager
def import_paths_allowed(*prefixes: str) -> Iterator[None]:
    """Let the engine import a benchmark's own task or policy by path (e.g.
    `load.scenarios.policy_timeout:quick`), in this process only and while the
    benchmark runs: import paths are refused unless the deployment allows
    their prefix (SECURITY.md, ESPER_ALLOW_IMPORT_PATHS)."""
    before = os.environ.get(ALLOW_ENV)
    allowed = [p for p in (before or "").split(",") if p.strip()]
    os.environ[ALLOW_ENV] = ",".join([*allowed, *prefixes])
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ALLOW_ENV, None)
        else:
            os.environ[ALLOW_ENV] = before
