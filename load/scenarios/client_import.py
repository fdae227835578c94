"""client-import: how long `import esper_client` (and the modules a script
needs to submit and read a run) takes in a fresh interpreter. Goal: under 0.3 s
(issue 22): a CLI or a notebook pays it on every start.

Each sample is a new `python -c` that times its own imports with perf_counter,
so interpreter start-up is not counted; the first sample warms the OS's file
cache and is dropped. Wall time is the figure the goal is about; CPU time (the
process's own) is printed beside it because on a shared, loaded machine wall
time also counts the waits for a core."""

import argparse
import subprocess
import sys
from typing import Any

from load.stats import print_table, summarize, summary

GOAL_S = 0.3
PROBE = """
import time
started, cpu = time.perf_counter(), time.process_time()
import esper_client
from esper_client.api.runs import create_run, get_run, list_runs
from esper_client.api.commands import create_command
from esper_client.api.telemetry import list_run_telemetry
from esper_client.models import RunCreate
print(time.perf_counter() - started, time.process_time() - cpu)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=int, default=20)


def sample() -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    wall, cpu = done.stdout.split()
    return float(wall), float(cpu)


def run(args: argparse.Namespace) -> dict[str, Any]:
    count = 5 if args.quick else args.samples
    sample()  # warm the file cache
    samples = [sample() for _ in range(count)]
    wall = summarize([w for w, _ in samples])
    cpu = summarize([c for _, c in samples])
    figures: dict[str, Any] = {
        "import_wall_s": wall,
        "import_cpu_s": cpu,
        "goal_s": GOAL_S,
        "median_within_goal": wall["p50"] < GOAL_S,
    }
    print_table(
        "import esper_client (+ the runs, commands and telemetry modules)",
        [{"stat": k, "wall_s": wall[k], "cpu_s": cpu[k]} for k in wall],
        ["stat", "wall_s", "cpu_s"],
    )
    verdict = "met" if figures["median_within_goal"] else "MISSED"
    print(f"goal: median wall < {GOAL_S} s: {verdict}")
    return summary("client-import", "cpu", count, figures)
