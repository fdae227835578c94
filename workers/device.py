"""Which torch device a worker serves, and what it reports about it."""

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
    return {"device_name": props.name, "memory_bytes": int(props.total_memory),
            "capability": f"{props.major}.{props.minor}"}


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
