"""rc1: Esper-Lite RC1's performance harness, on Esper's engine.

    python -m load rc1 [steady-train|rollback|tamiyo-timeout|kasmina-prefetch]

with RC1's options (--device, --epochs, --batch-size, --deadline-ms,
--timeout-every, --requests, --concurrency, --ready-latency-ms,
--disable-compile); no case runs all four (the CPU sweep RC1's CI ran, with
--quick). Every figure is printed beside a baseline measured in the same run
(a ratio), and beside RC1's published figure (rc1_baselines.py, with its
source) as a ratio labelled "vs RC1 published": other hardware, another
trainer and model, so read that column as context, not as a comparison.
Each case reuses the engine's own parts: the Trainer (rc1_train.py), its
rollback command path and Recovery (rc1_rollback.py), Tamiyo's deadline
runner with a policy made to overrun (rc1_train.py, rc1_workload.py), and
Kasmina's blueprint build cache (rc1_prefetch.py). Each case's table is
rc1_cases.py's (rc1_timeout.py's for tamiyo-timeout), printed through
rc1_report.py; this module holds the options and runs the cases."""

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch

from load.scenarios.rc1_baselines import SOURCE
from load.scenarios.rc1_cases import kasmina_prefetch, rollback, steady_train
from load.scenarios.rc1_timeout import tamiyo_timeout
from load.scenarios.rc1_workload import allow_own_plugins, task_name
from load.stats import device_description, summary

CASES = ("steady-train", "rollback", "tamiyo-timeout", "kasmina-prefetch")
# (full, --quick) values of the options left unset on the command line.
DEFAULTS: dict[str, tuple[Any, Any]] = {
    "repeats": (20, 2),
    "requests": (64, 16),
}


# The figures that count each case's samples (steps, restores, decisions,
# requests), summed into the summary's `samples`.
SAMPLE_KEYS = (
    "steps",
    "restores",
    "emergency_rollbacks",
    "decisions_asked",
    "requests",
    "engine_default_pool_requests",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", nargs="?", choices=CASES, help="default: all four")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--deadline-ms",
        type=float,
        default=5.0,
        help="rollback: the rollback deadline; tamiyo-timeout: the decision deadline",
    )
    parser.add_argument(
        "--timeout-every",
        type=int,
        default=2,
        help="tamiyo-timeout: every N-th decision overruns its deadline",
    )
    parser.add_argument("--requests", type=int, default=None, help="prefetch burst")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--ready-latency-ms", type=float, default=40.0)
    parser.add_argument(
        "--disable-compile",
        action="store_true",
        help="accepted for RC1's command lines: the engine compiles only "
        "with --compile",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile")
    parser.add_argument(
        "--task",
        default="rc1",
        help="rc1 (64 samples x 4 features, RC1's size) or an engine task",
    )
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--depth", type=int, default=None)
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="steady-train and tamiyo-timeout: runs per side",
    )
    parser.add_argument(
        "--policy-every",
        type=int,
        default=1,
        help="tamiyo-timeout: steps between decisions",
    )
    parser.add_argument(
        "--rollback-after",
        type=int,
        default=4,
        help="rollback: steps after a snapshot before it is restored",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (0: leave torch's default); RC1's "
        "workload is far below any parallel grain, and on a shared machine "
        "idle intra-op threads spin",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="kasmina-prefetch: builder pool (default: --concurrency)",
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    for name, (full, quick) in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.compile and args.disable_compile:
        raise SystemExit("--compile and --disable-compile contradict each other")
    args.task = task_name(args.task)
    # What steady_sides' plain model reads of a steady-train namespace.
    args.seeds, args.samples, args.precision = False, None, "fp32"
    cases = [args.case] if args.case else list(CASES)
    print(
        f"RC1 harness on {device_description(args.device)}; 'vs RC1 published' "
        f"is a ratio to RC1's figure from {SOURCE}: other hardware and code, "
        "not a same-run comparison; 'same-run ratio' is."
    )
    figures: dict[str, Any] = {}
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s)")
    with allow_own_plugins(), _restoring_threads(threads):
        for case in cases:
            started = time.perf_counter()
            figures[case] = RUNNERS[case](args)
            figures[case]["wall_s"] = time.perf_counter() - started
            print(f"  ({case}: {figures[case]['wall_s']:.1f} s)")
    samples = sum(figures[c].get(k, 0) for c in figures for k in SAMPLE_KEYS)
    return summary("rc1", args.device, samples, figures)


@contextlib.contextmanager
def _restoring_threads(threads: int) -> Iterator[None]:
    try:
        yield
    finally:
        torch.set_num_threads(threads)


RUNNERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "steady-train": steady_train,
    "rollback": rollback,
    "tamiyo-timeout": tamiyo_timeout,
    "kasmina-prefetch": kasmina_prefetch,
}
