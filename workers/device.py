"""Which torch device a worker serves, and what it reports about it."""

import os
import re
from typing import Any

import torch

_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d{1,2})$")


class DeviceError(ValueError):
    """The requested device does not exist on this machine."""


def resolve(requested: str) -> str:
    """`auto|cpu|cuda|cuda:N` -> a concrete device string (`cpu` or `cuda:N`)."""
    if not _DEVICE.match(requested):
        raise DeviceError(f"unknown device {requested!r}")
    if requested == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if requested == "auto":
        return "cuda:0" if available else "cpu"
    if not available:
        raise DeviceError(f"{requested} requested but CUDA is not available")
    index = int(requested.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceError(f"{requested} requested but only {count} GPU(s) exist")
    return f"cuda:{index}"


def describe(device: str) -> dict[str, Any]:
    """Name, memory and compute capability, for registration and the dashboard."""
    if device == "cpu":
        return {"device_name": "cpu", "memory_bytes": None, "capability": None}
    props = torch.cuda.get_device_properties(torch.device(device))
    return {
        "device_name": props.name,
        "memory_bytes": int(props.total_memory),
        "capability": f"{props.major}.{props.minor}",
    }


def can_serve(worker_device: str, wanted: str) -> bool:
    """Whether a worker on `worker_device` may take a run asking for `wanted`.

    `auto` and `cpu` runs go to any worker (a GPU worker can train on its host
    CPU); `cuda` needs some GPU; `cuda:N` needs that GPU.
    """
    if wanted in ("auto", "cpu"):
        return True
    if not worker_device.startswith("cuda"):
        return False
    return wanted == "cuda" or wanted == worker_device


def train_device(worker_device: str, wanted: str) -> str:
    """The device the engine should use for a run this worker serves."""
    return "cpu" if wanted == "cpu" else worker_device


def cpu_threads(configured: int | None) -> int:
    """Torch intra-op threads for CPU training: as configured, else half the
    cores (one on a 2-core host). The cores left over keep the worker's command
    reader and telemetry thread (and, under `esper up`, the gateway and Redis)
    from queueing behind training threads: on a 2-core host an operator's
    command waited up to 15 ms for a core at full width. On a 16-core host,
    15 threads made the digits MLP's step p99 30-45 ms (p50 1.3-1.5 ms): one
    preempted thread stalls the whole parallel step, and a halt waits for the
    step in flight. 8 threads: p99 6-7 ms, and the same p50."""
    if configured is not None:
        return max(1, configured)
    return max(1, (os.cpu_count() or 1) // 2)
