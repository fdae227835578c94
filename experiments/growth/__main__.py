"""`python -m experiments.growth`: train, summarise, write docs/growth.{md,json,png}."""

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from experiments.growth import document, experiment, plot, report
from experiments.growth.plans import DEFAULT_TASKS, PLANS

ROOT = Path(__file__).resolve().parents[2]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.growth", description=__doc__
    )
    parser.add_argument(
        "--tasks",
        default=",".join(DEFAULT_TASKS),
        help=f"comma-separated, from {', '.join(PLANS)}",
    )
    parser.add_argument("--seeds", type=int, default=5, help="RNG seeds per config")
    parser.add_argument(
        "--epochs-scale",
        type=float,
        default=1.0,
        help="multiply every task's epochs (a quick run: 0.1)",
    )
    parser.add_argument("--workers", type=int, default=2, help="training processes")
    parser.add_argument(
        "--strict-timing",
        action="store_true",
        help="keep the spec's 5 ms decision deadline (default: 50 ms, see docs)",
    )
    parser.add_argument(
        "--aggregation",
        choices=("sum", "pcgrad", "both"),
        default="sum",
        help="the grown runs' morphogenesis.gradient_aggregation; both: each "
        "grown run again with pcgrad (config grown_pcgrad)",
    )
    parser.add_argument(
        "--max-live",
        type=int,
        help="the grown runs' policy_options.max_live (default: the policy's, "
        "1; with 1 no two seeds blend at once and pcgrad has nothing to split)",
    )
    parser.add_argument(
        "--policy",
        choices=("heuristic", "learned", "both"),
        default="heuristic",
        help="the grown runs' policy; both: each grown run again with the "
        "learned one (config grown_learned)",
    )
    parser.add_argument(
        "--policy-weights",
        default="growth-bandit",
        help="the learned policy's weights (a name, docs/engine.md)",
    )
    parser.add_argument(
        "--first-seed", type=int, default=0, help="RNG seeds start here (held-out)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="output folder")
    parser.add_argument("--json", type=Path, help="JSON path (default OUT/growth.json)")
    args = parser.parse_args(argv)
    unknown = [t for t in args.tasks.split(",") if t not in PLANS]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; known: {list(PLANS)}")
    return args


def settings(args: argparse.Namespace) -> experiment.Settings:
    return experiment.Settings(
        tasks=tuple(args.tasks.split(",")),
        seeds=tuple(range(args.first_seed, args.first_seed + args.seeds)),
        epochs_scale=args.epochs_scale,
        workers=args.workers,
        loose_timing=not args.strict_timing,
        aggregation=args.aggregation,
        max_live=args.max_live,
        policy=args.policy,
        policy_weights=args.policy_weights,
    )


def machine() -> str:
    """The CPU as /proc/cpuinfo names it, the core count and torch."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores, torch {torch.__version__}"


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    chosen = settings(args)
    started = time.perf_counter()
    results = experiment.run(chosen, say=lambda line: print(line, flush=True))
    meta = {
        "command": " ".join(["python -m experiments.growth", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "total_s": time.perf_counter() - started,
        "settings": dataclasses.asdict(chosen),
    }
    doc = document.build(results, meta)
    write(doc, args.out, args.json or args.out / "growth.json")
    return doc


def write(doc: dict[str, Any], out: Path, json_path: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc, indent=1) + "\n")
    text = report.render(doc)
    if plot.plot(doc, out / "growth.png"):
        text += "\n![validation accuracy against training FLOPs](growth.png)\n"
    (out / "growth.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
