"""engine-halt: `emergency_halt` against the engine alone (no gateway, no Redis).

The halt flag is set from another thread, as the worker's command reader does,
at a random moment of steady training. Figures: optimizer steps the engine
issued after the arrival (`last_step` minus the step count at arrival; goal
<= 1), and the time from arrival until the engine reports the halt (its
`tolaria.emergency.halt` event, before the halt checkpoint is written). On
CUDA the host queues at most `max_ahead_steps` steps ahead of the device, so
updates already queued when the halt arrives (at most that many) still run
on the device; none is issued after it. The full-stack figure (POST -> last
step, through the gateway and Redis) is `halt-latency`.
"""

import argparse
import random
import statistics
import threading
import time
from typing import Any

import torch

from load.scenarios.common import bench_trainer, make_spec
from load.stats import device_description, print_table, summarize, summary
from workers.engine.hooks import Hooks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--task", default="synthetic-images")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--warm-steps", type=int, default=40)


def _one(args: argparse.Namespace, seed: int) -> dict[str, float]:
    hooks = Hooks()
    seen: dict[str, float] = {}
    emit_base = hooks.emit

    def emit(packet: dict[str, Any]) -> None:
        if packet["name"] == "tolaria.emergency.halt" and "halt_at" not in seen:
            seen["halt_at"] = time.perf_counter()
        emit_base(packet)

    hooks.emit = emit
    spec = make_spec(args.task, args.width, None, args.batch_size, 100000)
    rng = random.Random(seed)
    with bench_trainer(spec, hooks, device=args.device) as trainer:

        def halter() -> None:
            while trainer.state.step < args.warm_steps:
                time.sleep(0.0005)
            step_ms = float(trainer.metrics.latest.get("step_time_ms") or 1.0)
            time.sleep(rng.uniform(0, 2 * step_ms) / 1000)  # a random phase
            seen["arrival_step"] = trainer.state.step
            seen["arrival"] = time.perf_counter()
            hooks.halt_info["reason"] = "engine-halt benchmark"
            hooks.halt.set()

        thread = threading.Thread(target=halter, daemon=True)
        thread.start()
        outcome = trainer.run()
        thread.join(timeout=5)
    if outcome.state != "halted":
        raise RuntimeError(f"run ended {outcome.state}: {outcome.error}")
    return {
        "steps_after": outcome.result["last_step"] - seen["arrival_step"],
        "engine_steps_after_halt": outcome.result["steps_after_halt"],
        "halt_ms": (seen["halt_at"] - seen["arrival"]) * 1000,
        "step_ms": float(trainer.metrics.latest.get("step_time_ms") or 0.0),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    repeats = args.repeats or (5 if args.quick else 20)
    rows = [_one(args, seed) for seed in range(repeats)]
    halt = summarize([r["halt_ms"] for r in rows])
    after = [r["steps_after"] for r in rows]
    step_ms = statistics.median(r["step_ms"] for r in rows)
    print_table(
        f"engine-halt on {device_description(args.device)}, torch "
        f"{torch.__version__}: task={args.task} width={args.width} "
        f"batch={args.batch_size}; halt set from another thread at a random phase",
        [
            {"what": "arrival -> halt seen (ms)", **halt},
            {"what": "optimizer steps after arrival", **summarize(after)},
        ],
        ["what", "n", "min", "p50", "p95", "p99", "mean"],
    )
    print(
        f"max optimizer steps after arrival: {max(after)} (goal <= 1); "
        f"step time p50 {step_ms:.3f} ms (host-side on CUDA)"
    )
    figures = {
        "halt_ms_p50": halt["p50"],
        "halt_ms_p99": halt["p99"],
        "max_steps_after_halt": max(after),
        "step_ms_p50": step_ms,
        "repeats": rows,
    }
    return summary("engine-halt", args.device, len(rows), figures)
