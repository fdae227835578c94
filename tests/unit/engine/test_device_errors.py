"""Which failures fail only the run and which mean the worker must restart."""

import torch

from workers.engine.runtime import describe, device_broken


def test_out_of_memory_fails_the_run_but_not_the_worker() -> None:
    exc = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 TiB")
    assert not device_broken(exc)
    assert describe(exc).startswith("CUDA out of memory")


def test_sticky_cuda_errors_break_the_device() -> None:
    exc = RuntimeError("CUDA error: an illegal memory access was encountered")
    assert device_broken(exc)
    assert "worker restarts" in describe(exc)
    assert not device_broken(ValueError("bad shape"))
