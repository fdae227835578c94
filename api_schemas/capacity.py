"""How many devices a worker can give one run, from what it reports when it
registers (`capabilities.cpu_count`, `capabilities.gpu_count`). The gateway
refuses a spec no registered worker can serve (422 `devices_unavailable`); the
worker checks again before it spawns ranks."""

from collections.abc import Mapping
from typing import Any

# A CPU run of N devices is N gloo ranks, each a whole torch process with its
# own model and data, sharing one host's cores (threads per rank = cores // N).
# More ranks than cores only time-slice the same cores while memory grows with
# every rank, so a CPU worker serves at most one rank per core, and never more
# than CPU_RANKS_MAX: past that, one host's allreduce costs more than it saves.
CPU_RANKS_MAX = 8
# A worker that does not report its core count (an older build) is trusted with
# the smallest multi-rank run only.
CPU_RANKS_UNREPORTED = 2


def cpu_rank_limit(cpu_count: int | None) -> int:
    if not cpu_count or cpu_count < 1:
        return CPU_RANKS_UNREPORTED
    return min(cpu_count, CPU_RANKS_MAX)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _needed(devices: int | list[int] | None) -> tuple[int, int]:
    """(how many devices, how many GPUs the host must have)."""
    if devices is None:
        return 1, 1
    if isinstance(devices, int):
        return devices, devices
    return len(devices), max(devices) + 1


def can_serve_devices(
    worker_device: str,
    capabilities: Mapping[str, Any],
    device: str,
    devices: int | list[int] | None,
) -> bool:
    """Whether a worker on `worker_device` can run a spec's `device`/`devices`."""
    count, gpus = _needed(devices)
    if count <= 1:
        return True
    on_gpu = worker_device.startswith("cuda") and device != "cpu"
    if not on_gpu:
        if device.startswith("cuda"):
            return False  # a GPU asked of a CPU worker
        return count <= cpu_rank_limit(_int(capabilities.get("cpu_count")))
    if device.startswith("cuda:") and device != worker_device:
        return False
    available = _int(capabilities.get("gpu_count")) or 1
    own = int(worker_device.partition(":")[2] or 0)
    first = 0 if isinstance(devices, list) else own  # a count starts at its own
    return first + gpus <= available
