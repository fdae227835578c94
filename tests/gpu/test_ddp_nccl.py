"""DDP over two GPUs (NCCL): a training step never makes the host wait for the
device, so rank 0's host runs ahead as on one GPU. A per-step wait had made a
2-GPU step 2.2x as long as a 1-GPU step on a small CNN (docs/distributed.md)."""

import traceback
import warnings
from pathlib import Path

import pytest
import torch

from tests.unit.distributed.helpers import run_ranks
from tests.unit.engine.helpers import spec

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices"),
]
STEP_FUNCTIONS = {"_forward_backward", "_step_exchange", "_exchange"}


def test_a_ddp_step_does_not_wait_for_the_device(tmp_path: Path) -> None:
    stacks: list[set[str]] = []

    def record(*_: object, **__: object) -> None:
        stacks.append({frame.name for frame in traceback.extract_stack()})

    with warnings.catch_warnings():  # restores showwarning on the way out
        warnings.simplefilter("always")
        warnings.showwarning = record
        torch.cuda.set_sync_debug_mode("warn")  # warns at each host-device wait
        try:
            outcome, dumps, _ = run_ranks(
                spec(devices=2, device="cuda", epochs=3, max_steps=40),
                tmp_path,
                device="cuda:0",
            )
        finally:
            torch.cuda.set_sync_debug_mode(0)
    assert outcome.state == "completed", outcome.error
    assert [d["step"] for d in dumps] == [40, 40]
    # Waits at the periodic loss flush and the epoch end are expected; none
    # may come from inside a step.
    assert stacks, "the periodic flush should have been seen: is the probe on?"
    assert not [s & STEP_FUNCTIONS for s in stacks if s & STEP_FUNCTIONS]
