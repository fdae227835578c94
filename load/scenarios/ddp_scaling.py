"""ddp-scaling: steady-train over 1, 2 (and 4) devices, and halt latency with
several ranks (workers/distributed.py, docs/distributed.md).

Weak scaling: each rank keeps `--batch-size` samples per step, so the global
batch grows with the rank count. The 1-device baseline is the ordinary
single-device Trainer. Step time is the wall time between rank 0's consecutive
command polls (one per step, as in steady-train); throughput is global samples
per second at the median step; efficiency = throughput(N) / (N * throughput(1)).
Halt latency: a thread sets rank 0's halt event mid-run (as the session's
command reader does) and we count optimizer steps taken after it, on every rank.
"""

import argparse
import os
import shutil
import statistics
import threading
import time
from typing import Any

import torch

from load.scenarios.common import intervals_ms, make_spec, now, temp_dir
from load.stats import print_table, summarize, summary
from workers.distributed import DistributedRun
from workers.engine.hooks import EngineCommand, Hooks
from workers.engine.trainer import Trainer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--backend", default=None, choices=["gloo", "nccl"])
    parser.add_argument("--world-sizes", default=None, help="e.g. 1,2,4")
    parser.add_argument("--task", default="digits")
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=128, help="per rank")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--halt-repeats", type=int, default=None)
    parser.add_argument(
        "--samples", type=int, default=None, help="synthetic-images dataset size"
    )


def _world_sizes(args: argparse.Namespace) -> list[int]:
    if args.world_sizes:
        return [int(w) for w in args.world_sizes.split(",")]
    if args.device == "cuda":
        count = torch.cuda.device_count()
        return [w for w in (1, 2, 4) if w <= count]
    return [1, 2]


def _spec(args: argparse.Namespace, world: int, steps: int) -> Any:
    extra: dict[str, Any] = {"devices": world} if world > 1 else {}
    if args.samples:  # enough data that epoch-end validation stays rare
        extra["model"] = {
            "width": args.width,
            "depth": args.depth,
            "options": {"samples": args.samples},
        }
    return make_spec(
        args.task,
        args.width,
        args.depth,
        args.batch_size * world,
        steps,
        device=args.device,
        **extra,
    )


def runner(
    args: argparse.Namespace, world: int, steps: int, hooks: Hooks, folder: Any
) -> Trainer | DistributedRun:
    """The plain single-device Trainer for one rank, a DistributedRun for more."""
    spec = _spec(args, world, steps)
    device = "cuda:0" if args.device == "cuda" else "cpu"
    if world == 1:
        return Trainer(
            spec, hooks, run_id="bench", checkpoint_dir=folder, device=device
        )
    return DistributedRun(
        spec,
        hooks,
        run_id="bench",
        checkpoint_dir=folder,
        device=device,
        backend=args.backend,
    )


def _timed_run(args: argparse.Namespace, world: int, steps: int) -> list[float]:
    stamps: list[float] = []

    def next_command() -> EngineCommand | None:
        stamps.append(now())
        return None

    folder = temp_dir()
    outcome = runner(args, world, steps, Hooks(next_command=next_command), folder).run()
    shutil.rmtree(folder, ignore_errors=True)
    if outcome.state != "completed":
        raise RuntimeError(f"{world}-rank run ended {outcome.state}: {outcome.error}")
    return intervals_ms(stamps, skip=10)


def _halt_once(args: argparse.Namespace, world: int) -> dict[str, float]:
    hooks, folder = Hooks(), temp_dir()
    job = DistributedRun(
        _spec(args, world, 10**6),
        hooks,
        run_id="bench-halt",
        checkpoint_dir=folder,
        device="cuda:0" if args.device == "cuda" else "cpu",
        backend=args.backend,
        dump_dir=folder / "dump",
    )
    arrival: dict[str, float] = {}

    def halt_mid_run() -> None:
        while job.trainer is None or job.trainer.state.step < 30:
            time.sleep(0.001)
        arrival["step"], arrival["t"] = job.trainer.state.step, time.perf_counter()
        hooks.halt_info["reason"] = "benchmark"
        hooks.halt.set()

    threading.Thread(target=halt_mid_run, daemon=True).start()
    outcome = job.run()
    assert job.trainer is not None
    dumps = [
        torch.load(folder / "dump" / f"rank-{r}.pt", weights_only=False)
        for r in range(world)
    ]
    shutil.rmtree(folder, ignore_errors=True)
    assert job.strategy is not None
    seen = job.strategy.halt_observed_at or float("nan")
    return {
        "halted": float(outcome.state == "halted"),
        "steps_after": float(max(d["step"] for d in dumps) - arrival["step"]),
        "ranks_agree": float(len({d["step"] for d in dumps}) == 1),
        "observe_ms": (seen - arrival["t"]) * 1000,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")  # NVLink multicast stays off
    steps = args.steps or (60 if args.quick else 300)
    worlds = _world_sizes(args)
    rows, figures = [], {}
    for world in worlds:
        step = summarize(_timed_run(args, world, steps))
        throughput = args.batch_size * world / (step["p50"] / 1000)
        figures[str(world)] = {"step_ms": step, "samples_per_s": throughput}
        rows.append({"ranks": world, **step, "samples/s": throughput})
    base = figures[str(worlds[0])]["samples_per_s"] / worlds[0]
    for row in rows:
        row["efficiency"] = row["samples/s"] / (row["ranks"] * base)
        figures[str(row["ranks"])]["efficiency"] = row["efficiency"]
    backend = args.backend or ("nccl" if args.device == "cuda" else "gloo")
    print_table(
        f"ddp-scaling on {args.device} ({backend}): {args.task} width "
        f"{args.width}, {args.batch_size}/rank, {steps} steps; step ms",
        rows,
        ["ranks", "n", "p50", "p95", "mean", "samples/s", "efficiency"],
    )
    figures["halt"] = _halt_report(args, max(worlds))
    return summary(
        "ddp-scaling",
        "cuda:0" if args.device == "cuda" else "cpu",
        sum(len(f) for f in figures),
        figures,
    )


def _halt_report(args: argparse.Namespace, world: int) -> dict[str, Any]:
    if world < 2:
        print("halt latency: needs 2 or more ranks; skipped")
        return {}
    repeats = args.halt_repeats or (2 if args.quick else 5)
    results = [_halt_once(args, world) for _ in range(repeats)]
    observe = summarize([r["observe_ms"] for r in results])
    after = [int(r["steps_after"]) for r in results]
    print_table(
        f"halt latency with {world} ranks ({repeats} halts): ms from the "
        "halt event to the collective that shares it",
        [{"what": "halt -> seen by all ranks", **observe}],
        ["what", "n", "min", "p50", "p95", "mean"],
    )
    agree = all(r["ranks_agree"] for r in results)
    halted = sum(r["halted"] for r in results)
    print(
        f"optimizer steps after the halt arrived: max {max(after)}, all {after};"
        f" every rank stopped at the same step: {agree}; halted {halted:.0f}/"
        f"{repeats}"
    )
    return {
        "world": world,
        "observe_ms": observe,
        "steps_after": after,
        "max_steps_after": max(after),
        "ranks_agree": agree,
        "mean_observe_ms": statistics.fmean(r["observe_ms"] for r in results),
    }
