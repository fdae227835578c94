"""Torch helpers of the trainer: device choice, gradient norms, compilation,
state copying, describing failures and bounding how far CUDA steps run ahead."""

from collections import deque
from typing import Any

import torch
from torch import Tensor

from workers.engine.seeds.slot import SeedSlot


def resolve_device(name: str) -> torch.device:
    device = torch.device(
        "cpu"
        if name == "auto" and not torch.cuda.is_available()
        else "cuda"
        if name == "auto"
        else name
    )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    return device


def grad_norm(grads: list[Tensor]) -> float:
    """Global L2 norm in three dispatches (foreach), whatever the count."""
    return float(grad_norm_tensor(grads))


def grad_norm_tensor(grads: list[Tensor]) -> Tensor:
    """The global L2 norm as a device tensor (no host sync)."""
    norms = torch._foreach_norm(grads)
    return torch.linalg.vector_norm(torch.stack(norms))


def bf16_ok(device: torch.device) -> bool:
    """bf16 autocast where the GPU does bf16 natively (Ampere and later)."""
    return torch.cuda.get_device_capability(device)[0] >= 8


def compile_requested(options: dict[str, Any]) -> bool:
    value = options.get("compile", False)
    return value is True or str(value).lower() in ("1", "true", "yes")


def compile_host(model: torch.nn.Module, backend: Any = "inductor") -> list[str]:
    """torch.compile each largest submodule that holds no seed slot, in place.

    Slots stay eager, so germinating, blending or culling a seed changes no
    compiled graph and nothing is recompiled; the host's state_dict keys are
    unchanged (nn.Module.compile wraps the call, not the module)."""
    compiled: list[str] = []

    def walk(module: torch.nn.Module, prefix: str) -> None:
        for name, child in module.named_children():
            if isinstance(child, SeedSlot):
                continue
            containers = (torch.nn.ModuleList, torch.nn.ModuleDict)
            if isinstance(child, containers) or any(
                isinstance(m, SeedSlot) for m in child.modules()
            ):  # containers are never called: compile what they hold
                walk(child, f"{prefix}{name}.")
            elif any(True for _ in child.parameters()):
                # The bound forward, not nn.Module.compile (whose wrapped
                # _call_impl this torch leaves uncompiled) nor torch.compile
                # (module) (whose wrapper renames the state_dict keys).
                child.forward = torch.compile(child.forward, backend=backend)
                compiled.append(prefix + name)

    walk(model, "")
    # Every compiled forward shares one wrapper code object, so dynamo counts
    # all blocks' graphs (train, eval, probe; per input dtype) against one
    # recompile limit (8 by default); past it, it silently runs eager.
    config = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(config, name):
            setattr(config, name, max(getattr(config, name), 8 * len(compiled)))
    return compiled


def as_tuple(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(as_tuple(v) for v in value)
    return value


def describe(exc: BaseException) -> str:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return f"CUDA out of memory: {exc}"
    if device_broken(exc):
        return f"CUDA device error (the worker restarts): {exc}"
    return f"{type(exc).__name__}: {exc}"


# CUDA errors after which the process's context is unusable ("sticky" errors).
_STICKY = (
    "illegal memory access",
    "device-side assert",
    "unspecified launch failure",
    "misaligned address",
    "illegal instruction",
    "uncorrectable ECC",
    "device has fallen off the bus",
    "CUDA error: unknown error",
)


def device_broken(exc: BaseException) -> bool:
    """Whether the failure leaves this process's CUDA context unusable; an
    out-of-memory error does not (the run fails, the worker carries on)."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return False
    text = str(exc)
    return any(marker in text for marker in _STICKY)


class RunAhead:
    """CUDA: let the host queue at most `limit` steps ahead of the device.
    Waiting on the event of a step already queued behind another never idles
    the device, yet it keeps an operator's halt (or any command) within that
    many updates of the device's own progress."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight: deque[torch.cuda.Event] = deque()  # queued steps

    def step_queued(self) -> None:
        event = torch.cuda.Event()
        event.record()
        self._in_flight.append(event)
        if len(self._in_flight) > self.limit:
            self._in_flight.popleft().synchronize()

    def clear(self) -> None:
        self._in_flight.clear()
