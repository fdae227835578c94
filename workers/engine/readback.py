"""Device scalars read back later without a device-wide sync.

`tensor.tolist()` on CUDA copies on the current stream and waits for all the
work queued there, the steps in flight included. A `Readback` instead copies
its scalars into pinned host memory without blocking and records an event;
`values()` then waits for that event alone, which a few steps later has long
passed: the G1 check every 5 steps used to drain the device's queue each time.
"""

import torch
from torch import Tensor


class Readback:
    """Floats for a mix of floats and device scalars, read when wanted."""

    def __init__(self, values: list[Tensor | float]) -> None:
        self._values = values
        tensors = [
            v.detach().float().reshape(()) for v in values if isinstance(v, Tensor)
        ]
        self._event: torch.cuda.Event | None = None
        self._host: Tensor | None = None
        if not tensors:
            return
        stacked = torch.stack(tensors)
        if stacked.is_cuda:
            self._host = torch.empty(stacked.shape, pin_memory=True)
            self._host.copy_(stacked, non_blocking=True)
            self._event = torch.cuda.Event()
            self._event.record()
        else:
            self._host = stacked

    def values(self) -> list[float]:
        if self._event is not None:
            self._event.synchronize()
        read = iter(self._host.tolist() if self._host is not None else [])
        return [next(read) if isinstance(v, Tensor) else float(v) for v in self._values]
