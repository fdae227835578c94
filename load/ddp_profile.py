"""Where a step's time goes, one device against several: rank 0 (which runs in
this process) under torch.profiler for a window of steps, and every call that
makes the host wait for the device counted by call site.

    python -m load.ddp_profile --device cuda [--world 2] [ddp-scaling options]

Prints, for 1 rank (the plain Trainer) and then `--world` ranks: the mean step
time over the window, the ops with the most self CPU time and the most device
time, and the synchronising call sites. Written to find the per-step cost that
DDP adds on small, launch-bound models (docs/distributed.md, "Scaling").
"""

import argparse
import collections
import shutil
import time
import warnings
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from load.scenarios import ddp_scaling
from load.scenarios.common import temp_dir
from load.sync_probe import engine_call_site
from workers.engine.hooks import EngineCommand, Hooks

WINDOW = (60, 100)  # rank 0's steps profiled: warm, before the last epoch end


def profiled_run(args: argparse.Namespace, world: int) -> None:
    cuda = args.device == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    prof = profile(activities=activities)
    sites: collections.Counter[str] = collections.Counter()
    stamps: list[float] = []

    def next_command() -> EngineCommand | None:  # rank 0 polls once a step
        stamps.append(time.perf_counter())
        if len(stamps) == WINDOW[0]:
            prof.start()
            if cuda:
                torch.cuda.set_sync_debug_mode("warn")
        elif len(stamps) == WINDOW[1]:
            if cuda:
                torch.cuda.set_sync_debug_mode(0)
            prof.stop()
        return None

    def record(*_: Any, **__: Any) -> None:
        sites[engine_call_site()] += 1

    folder = temp_dir()
    job = ddp_scaling.runner(
        args, world, WINDOW[1] + 20, Hooks(next_command=next_command), folder
    )
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        outcome = job.run()
    shutil.rmtree(folder, ignore_errors=True)
    window = stamps[WINDOW[0] : WINDOW[1]]
    step_ms = (window[-1] - window[0]) / (len(window) - 1) * 1000
    print(
        f"\n## {world} rank(s): {outcome.state}; mean step over steps "
        f"{WINDOW[0]}-{WINDOW[1]}: {step_ms:.3f} ms"
    )
    table = prof.key_averages()
    print(table.table(sort_by="self_cpu_time_total", row_limit=18))
    if cuda:
        print(table.table(sort_by="self_device_time_total", row_limit=12))
    print(
        "synchronising call sites in the window:", dict(sites.most_common(10)) or "none"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m load.ddp_profile")
    ddp_scaling.add_arguments(parser)
    parser.add_argument("--world", type=int, default=2)
    args = parser.parse_args()
    for world in (1, args.world):
        profiled_run(args, world)


if __name__ == "__main__":
    main()
