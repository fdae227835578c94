"""A run over several devices: rank 0 in this process, one spawned process per
other rank (see workers/engine/distributed.py for what the ranks share).

The session uses `DistributedRun` in place of a Trainer when the spec's
`devices` asks for more than one device. Rank 0 runs on the caller's thread with
the session's hooks, so Redis, telemetry, acks and checkpoint events stay in the
worker process exactly as for a single-device run; the other ranks get silent
hooks. On CPU, `devices: N` means N gloo ranks on the host's CPU.
"""

import logging
import multiprocessing as mp
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from api_schemas.capacity import cpu_rank_limit
from api_schemas.runs import RunCreate
from workers.device import DeviceError
from workers.engine.distributed import DDPStrategy
from workers.engine.hooks import Hooks, Progress, RunOutcome
from workers.engine.options import EngineOptions
from workers.engine.ranks import RankInfo
from workers.engine.trainer import Trainer
from workers.rank_lifetime import bind_to_parent, forget, track

log = logging.getLogger("esper.worker.distributed")

JOIN_AFTER_DONE_S = 60.0  # other ranks finish right after rank 0; then end them
JOIN_AFTER_FAIL_S = 5.0


def device_count(devices: int | list[int] | None) -> int:
    if devices is None:
        return 1
    return devices if isinstance(devices, int) else len(devices)


def wants_several(spec: RunCreate) -> bool:
    return device_count(spec.devices) > 1


def rank_devices(spec: RunCreate, worker_device: str) -> list[str]:
    """One torch device per rank.

    CPU (spec or worker): N ranks on the CPU. CUDA: a list names the GPUs; a
    count takes that many GPUs from the worker's own one upwards.
    """
    count = device_count(spec.devices)
    if spec.device == "cpu" or not worker_device.startswith("cuda"):
        if spec.device.startswith("cuda"):
            raise DeviceError(f"{spec.device} requested but this worker has no GPU")
        limit = cpu_rank_limit(os.cpu_count())
        if count > limit:  # the gateway refuses it too; a stale queue may not
            raise DeviceError(f"{count} CPU ranks requested; this host serves {limit}")
        return ["cpu"] * count
    available = torch.cuda.device_count()
    if isinstance(spec.devices, list):
        ids = list(spec.devices)
    else:
        first = int(worker_device.partition(":")[2] or 0)
        ids = list(range(first, first + count))
    missing = [i for i in ids if i >= available]
    if missing or len(set(ids)) != len(ids):
        raise DeviceError(f"devices {ids} requested; this host has {available} GPU(s)")
    return [f"cuda:{i}" for i in ids]


@dataclass
class RankJob:
    """What a spawned rank needs (picklable: it crosses the spawn boundary)."""

    spec: RunCreate
    run_id: str
    checkpoint_dir: Path
    device: str
    info: RankInfo
    resume_from: str | None
    fork: bool
    options: EngineOptions | None
    threads: int
    dump_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    parent_pid: int = 0


def rank_main(job: RankJob) -> None:
    """Entry point of a spawned rank: train with silent hooks, then exit."""
    bind_to_parent(job.parent_pid, f"esper-rank-{job.info.rank}")
    os.environ.update(job.env)
    torch.set_num_threads(job.threads)
    strategy = DDPStrategy(job.info)
    trainer = Trainer(
        job.spec,
        Hooks(),
        run_id=job.run_id,
        checkpoint_dir=job.checkpoint_dir,
        device=job.device,
        resume_from=job.resume_from,
        fork=job.fork,
        options=job.options,
        strategy=strategy,
    )
    outcome = trainer.run()
    if job.dump_dir is not None:
        dump_rank(job.dump_dir, trainer, strategy, outcome)
    raise SystemExit(1 if outcome.state == "failed" else 0)


def dump_rank(
    folder: Path, trainer: Trainer, strategy: DDPStrategy, outcome: RunOutcome
) -> None:
    """Write one rank's end state (tests and benchmarks compare the ranks)."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = trainer._parts  # None when setup failed
    params = {} if parts is None else parts.model.state_dict()
    state = {
        "rank": strategy.rank,
        "state": outcome.state,
        "error": outcome.error,
        "step": trainer.state.step,
        "applied": strategy.applied,
        "losses": trainer.metrics.losses,
        "result": outcome.result,
        "halt_seen_step": trainer.state.halt_seen_step,
        "params": {k: v.detach().cpu().clone() for k, v in params.items()},
    }
    torch.save(state, folder / f"rank-{strategy.rank}.pt")


class DistributedRun:
    """Looks like a Trainer to the session: `run()` and `progress()`."""

    def __init__(
        self,
        spec: RunCreate,
        hooks: Hooks,
        *,
        run_id: str,
        checkpoint_dir: Path,
        device: str = "cpu",
        resume_from: str | None = None,
        fork: bool = False,
        options: EngineOptions | None = None,
        timeout_s: float = 300.0,
        dump_dir: Path | None = None,
        backend: str | None = None,
    ) -> None:
        self.spec = spec
        self.hooks = hooks
        self.run_id = run_id
        self.checkpoint_dir = Path(checkpoint_dir)
        self.devices = rank_devices(spec, device)
        self.resume_from = resume_from
        self.fork = fork
        self.options = options
        self.timeout_s = timeout_s
        self.dump_dir = dump_dir
        cuda = self.devices[0].startswith("cuda")
        self.backend = backend or ("nccl" if cuda else "gloo")
        self.trainer: Trainer | None = None
        self.strategy: DDPStrategy | None = None  # rank 0's
        self.exit_codes: dict[int, int | None] = {}

    def progress(self) -> Progress:
        trainer = self.trainer
        return trainer.progress() if trainer is not None else Progress()

    def run(self) -> RunOutcome:
        world = len(self.devices)
        backend = self.backend
        meeting = Path(tempfile.mkdtemp(prefix="esper-ddp-"))
        info = RankInfo(
            0, world, f"file://{meeting / 'store'}", backend, self.timeout_s
        )
        on_cpu = self.devices[0] == "cpu"
        threads = _threads_per_rank(world) if on_cpu else 1
        saved_threads = torch.get_num_threads()
        children = self._spawn(info, threads)
        outcome = RunOutcome("failed", error="rank 0 did not start")
        try:
            if on_cpu:  # ranks share the host's cores
                torch.set_num_threads(threads)
            self.strategy = DDPStrategy(info)
            self.trainer = Trainer(
                self.spec,
                self.hooks,
                strategy=self.strategy,
                run_id=self.run_id,
                checkpoint_dir=self.checkpoint_dir,
                device=self.devices[0],
                resume_from=self.resume_from,
                fork=self.fork,
                options=self.options,
            )
            outcome = self.trainer.run()
        finally:
            torch.set_num_threads(saved_threads)
            self._join(children, outcome.state == "failed")
            shutil.rmtree(meeting, ignore_errors=True)
        if self.dump_dir is not None and self.trainer and self.strategy:
            dump_rank(self.dump_dir, self.trainer, self.strategy, outcome)
        return self._merge(outcome)

    def _spawn(self, info: RankInfo, threads: int) -> list[Any]:
        context = mp.get_context("spawn")  # never fork a process holding threads
        env = {k: v for k, v in os.environ.items() if k.startswith(("NCCL_", "GLOO_"))}
        children = []
        for rank in range(1, info.world):
            job = RankJob(
                self.spec,
                self.run_id,
                self.checkpoint_dir,
                self.devices[rank],
                RankInfo(
                    rank, info.world, info.init_method, info.backend, info.timeout_s
                ),
                self.resume_from,
                self.fork,
                self.options,
                threads,
                self.dump_dir,
                env,
                os.getpid(),
            )
            child = context.Process(
                target=rank_main, args=(job,), name=f"esper-rank-{rank}", daemon=True
            )
            child.start()
            track(child)
            children.append(child)
        return children

    def _join(self, children: list[Any], failed: bool) -> None:
        for rank, child in enumerate(children, start=1):
            child.join(JOIN_AFTER_FAIL_S if failed else JOIN_AFTER_DONE_S)
            if child.is_alive():  # stuck in a collective rank 0 left: end it
                log.warning(
                    "rank %d still running after rank 0 ended; terminating", rank
                )
                child.terminate()
                child.join(5.0)
            if child.is_alive():
                child.kill()
                child.join(5.0)
            forget(child)
            self.exit_codes[rank] = child.exitcode

    def _merge(self, outcome: RunOutcome) -> RunOutcome:
        """Rank 0's outcome, failed if another rank failed under it."""
        result = dict(outcome.result)
        result["devices"] = self.devices
        bad = {r: c for r, c in self.exit_codes.items() if c != 0}
        if bad and outcome.state != "failed":
            return RunOutcome(
                "failed", error=f"ranks {sorted(bad)} exited {bad}", result=result
            )
        return RunOutcome(outcome.state, outcome.error, outcome.halt_reason, result)


def _threads_per_rank(world: int) -> int:
    return max(1, (os.cpu_count() or 1) // world)
