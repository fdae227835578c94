"""Run a 2-rank gloo job on CPU: rank 0 in this process with scripted hooks,
rank 1 spawned; each rank dumps its end state for comparison.

With ESPER_DDP_TEST_DEVICE=cuda the same tests run on two GPUs over NCCL (on
the GPU machine: load/ddp_gpu.sh); CI has no GPU and runs them on CPU.
"""

import os
from pathlib import Path
from typing import Any

import torch

from api_schemas.runs import RunCreate
from tests.unit.engine.helpers import Script
from workers.distributed import DistributedRun
from workers.engine.hooks import EngineCommand, RunOutcome

DEVICE = os.environ.get("ESPER_DDP_TEST_DEVICE", "cpu")


class RankScript(Script):
    """Script whose step clock is rank 0's trainer inside a DistributedRun."""

    def __init__(self) -> None:
        super().__init__()
        self.job: DistributedRun | None = None

    @property
    def step(self) -> int:
        trainer = self.job.trainer if self.job else None
        return trainer.state.step if trainer is not None else 0

    def next_command(self) -> EngineCommand | None:
        if self.scheduled and self.scheduled[0][0] <= self.step:
            return self.scheduled.popleft()[1]
        return None


def run_ranks(
    run_spec: RunCreate, tmp_path: Path, script: RankScript | None = None, **kw: Any
) -> tuple[RunOutcome, list[dict[str, Any]], RankScript]:
    script = script or RankScript()
    if DEVICE != "cpu":
        run_spec = run_spec.model_copy(update={"device": DEVICE})
        kw.setdefault("device", f"{DEVICE}:0")
    job = DistributedRun(
        run_spec,
        script.hooks,
        run_id="ddp-test",
        checkpoint_dir=tmp_path / "ckpt",
        dump_dir=tmp_path / "dump",
        timeout_s=60,
        **kw,
    )
    script.job = job
    outcome = job.run()
    dumps = [
        torch.load(tmp_path / "dump" / f"rank-{r}.pt", weights_only=False)
        for r in range(len(job.devices))
    ]
    return outcome, dumps, script


def assert_identical(dumps: list[dict[str, Any]]) -> None:
    first = dumps[0]
    for other in dumps[1:]:
        assert other["step"] == first["step"]
        assert other["applied"] == first["applied"]
        assert other["losses"] == first["losses"]
        assert sorted(other["params"]) == sorted(first["params"])
        for name, value in first["params"].items():
            assert torch.equal(value, other["params"][name]), name
