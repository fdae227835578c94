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
Kasmina's blueprint build cache (rc1_prefetch.py)."""

import argparse
import contextlib
import math
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch

from load.scenarios import rc1_prefetch, rc1_rollback, rc1_train
from load.scenarios.rc1_baselines import SOURCE, published
from load.scenarios.rc1_workload import allow_own_plugins, task_name
from load.stats import device_description, percentile, print_table, summary

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


# ---- reporting --------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def _row(
    case: str,
    args: argparse.Namespace,
    figure: str,
    value: float,
    *,
    baseline: float | None = None,
    rc1_key: str | None = None,
) -> dict[str, Any]:
    rc1 = published(case, rc1_key, args.device) if rc1_key else None
    return {
        "figure": figure,
        "esper": value,
        "same-run baseline": "" if baseline is None else baseline,
        "same-run ratio": _or_blank(_ratio(value, baseline)),
        "RC1 published": "" if rc1 is None else rc1.value,
        "vs RC1 published": "" if rc1 is None else _or_blank(_ratio(value, rc1.value)),
    }


def _or_blank(value: float | None) -> float | str:
    return "" if value is None else value


COLUMNS = [
    "figure",
    "esper",
    "same-run baseline",
    "same-run ratio",
    "RC1 published",
    "vs RC1 published",
]


def _print(title: str, rows: list[dict[str, Any]], notes: list[str]) -> None:
    print_table(title, rows, COLUMNS)
    for note in notes:
        print(f"  {note}")


def _p95(values: list[float]) -> float:
    return percentile(values, 95)


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


# ---- the four cases -----------------------------------------------------------


def steady_train(args: argparse.Namespace) -> dict[str, Any]:
    got = rc1_train.steady_train(args)
    e, p = got["engine"], got["plain"]
    fig = {
        "step_ms_mean": _mean(e.step_ms),
        "step_ms_p95": _p95(e.step_ms),
        "plain_step_ms_mean": _mean(p.step_ms),
        "plain_step_ms_p95": _p95(p.step_ms),
        "epoch_ms_mean": _mean(e.epoch_ms),
        "epoch_ms_p95": _p95(e.epoch_ms),
        "plain_epoch_ms_mean": _mean(p.epoch_ms),
        "plain_epoch_ms_p95": _p95(p.epoch_ms),
        "steps": len(e.step_ms),
        "epochs": len(e.epoch_ms),
    }
    c = "steady-train"
    rows = [
        _row(
            c,
            args,
            "step ms mean",
            fig["step_ms_mean"],
            baseline=fig["plain_step_ms_mean"],
        ),
        _row(
            c,
            args,
            "step ms p95",
            fig["step_ms_p95"],
            baseline=fig["plain_step_ms_p95"],
        ),
        _row(
            c,
            args,
            "epoch ms mean",
            fig["epoch_ms_mean"],
            baseline=fig["plain_epoch_ms_mean"],
            rc1_key="epoch_ms_mean",
        ),
        _row(
            c,
            args,
            "epoch ms p95",
            fig["epoch_ms_p95"],
            baseline=fig["plain_epoch_ms_p95"],
            rc1_key="epoch_ms_p95",
        ),
    ]
    _print(
        f"rc1 steady-train: --epochs {args.epochs} --batch-size {args.batch_size} "
        f"x {args.repeats} runs a side, task {args.task}",
        rows,
        [
            "same-run baseline: a plain PyTorch loop, same model, data, Adam, "
            "batches (interleaved runs)",
            f"{fig['steps']} step intervals and {fig['epochs']} epochs a side; "
            "epoch = RC1's tolaria.training.latency_ms (one epoch's training, "
            "validation excluded); RC1 published no step figure",
        ],
    )
    return fig


def rollback(args: argparse.Namespace) -> dict[str, Any]:
    got = rc1_rollback.rollback(args)
    mem, disk = got["memory_ms"], got["disk_ms"]
    fig = {
        "restore_ms_mean": _mean(mem),
        "restore_ms_p95": _p95(mem),
        "disk_restore_ms_mean": _mean(disk),
        "memcpy_ms": got["memcpy_ms"],
        "deadline_exceeded_total": got["deadline_exceeded_total"],
        "over_deadline": got["over_deadline"],
        "restores": got["restores"],
        "exact_restores": got["exact"],
        "rejected": got["rejected"],
        "state_bytes": got["state_bytes"],
        "emergency_rollbacks": got["emergency_rollbacks"],
        "emergency_restore_ms_mean": _mean(got["emergency_ms"]),
        "escalations": got["escalations"],
        "outcome": got["outcome"],
        "halt_reason": got["halt_reason"],
    }
    c = "rollback"
    memcpy = got["memcpy_ms"]
    rows = [
        _row(
            c,
            args,
            "restore ms mean (memory)",
            fig["restore_ms_mean"],
            baseline=memcpy,
            rc1_key="restore_ms_mean",
        ),
        _row(
            c, args, "restore ms p95 (memory)", fig["restore_ms_p95"], baseline=memcpy
        ),
        _row(
            c,
            args,
            "restore ms mean (disk)",
            fig["disk_restore_ms_mean"],
            baseline=memcpy,
        ),
        _row(
            c,
            args,
            "deadline_exceeded_total",
            float(fig["deadline_exceeded_total"]),
            baseline=float(fig["over_deadline"]),
            rc1_key="deadline_exceeded_total",
        ),
    ]
    _print(
        f"rc1 rollback: --deadline-ms {args.deadline_ms} --epochs {args.epochs} "
        f"--batch-size {args.batch_size}, {len(mem)} memory + {len(disk)} disk "
        f"restores by operator command",
        rows,
        [
            f"same-run baseline: restore rows, a memcpy of the same "
            f"{fig['state_bytes']} bytes; deadline_exceeded_total, the restores "
            "(operator's and emergency) timed over the deadline: ratio 1 = the "
            "counter agrees",
            f"exact restores (every model and optimizer tensor equal to the "
            f"snapshot's): {fig['exact_restores']} of {fig['restores']}; "
            f"rejected commands: {len(fig['rejected'])}",
            f"engine handling: each restore over the deadline is a failure on "
            f"the emergency ladder (escalations: "
            f"{', '.join(fig['escalations']) or 'none'}; a late restore keeps "
            f"the state asked for, six failures in the window halt); emergency "
            f"rollbacks: {fig['emergency_rollbacks']}; run {fig['outcome']}"
            + (f" ({fig['halt_reason']})" if fig["halt_reason"] else ""),
            "RC1's 12 ms was a stubbed rollback's constant (rc1_baselines.py)",
        ],
    )
    return fig


def tamiyo_timeout(args: argparse.Namespace) -> dict[str, Any]:
    got = rc1_train.tamiyo_timeout(args)
    slow, fast = got["slow"], got["never_slow"]
    x = slow.extra
    fig = {
        **x,
        "timeout_fraction": _ratio(x["timeouts"], x["decisions_asked"]),
        "step_ms_p95": _p95(slow.step_ms),
        "step_ms_p95_never_slow": _p95(fast.step_ms),
        "step_ms_mean": _mean(slow.step_ms),
        "step_ms_mean_never_slow": _mean(fast.step_ms),
        "never_slow_timeouts": fast.extra["timeouts"],
    }
    c = "tamiyo-timeout"
    fig["in_flight_at_end"] = (
        x["decisions_asked"] - x["decisions_acted"] - x["timeouts"]
    )
    rows = [
        _row(
            c,
            args,
            "tolaria.timeout.tamiyo_total",
            float(x["timeouts"]),
            baseline=float(x["slow_calls"]),
            rc1_key="timeouts",
        ),
        _row(
            c,
            args,
            "timeouts / decisions asked",
            fig["timeout_fraction"] or float("nan"),
            baseline=1 / args.timeout_every if args.timeout_every else 0.0,
        ),
        _row(
            c,
            args,
            "step ms mean",
            fig["step_ms_mean"],
            baseline=fig["step_ms_mean_never_slow"],
        ),
        _row(
            c,
            args,
            "step ms p95",
            fig["step_ms_p95"],
            baseline=fig["step_ms_p95_never_slow"],
        ),
    ]
    _print(
        f"rc1 tamiyo-timeout: --timeout-every {args.timeout_every} --deadline-ms "
        f"{args.deadline_ms} --epochs {args.epochs} --batch-size "
        f"{args.batch_size} x {args.repeats} runs a side, a decision asked "
        f"every {args.policy_every} step(s)",
        rows,
        [
            "same-run baseline: counter row, the decisions the policy was made "
            "to overrun (sleeping 2x the deadline); fraction row, 1/N; step "
            "rows, the same policy never overrunning (its run counted "
            f"{fig['never_slow_timeouts']} timeouts: the machine's own misses)",
            f"engine handling: {x['decisions_asked']} decisions asked, "
            f"{x['decisions_acted']} answered in time and acted on, "
            f"{x['timeouts']} late (counter; {x['timeout_events']} "
            f"tolaria.tamiyo_timeout events; each late answer dropped), "
            f"{fig['in_flight_at_end']} still running at a run's end; "
            f"conservative mode entered {x['conservative_entered']} time(s); no "
            "new request while a late one runs, so no step waits for it",
            "RC1 published a count (1 timeout of 3 decisions, one per epoch): "
            "the ratio is counts, not speed",
        ],
    )
    return fig


def kasmina_prefetch(args: argparse.Namespace) -> dict[str, Any]:
    got = rc1_prefetch.kasmina_prefetch(args)
    c, ready = "kasmina-prefetch", args.ready_latency_ms
    fig: dict[str, Any] = {}
    rows = []
    for label, run in got.items():
        lat = run["latency_ms"]
        key = "" if label == "burst" else f"{label}_"
        fig[f"{key}latency_ms_mean"] = _mean(lat)
        fig[f"{key}latency_ms_p95"] = _p95(lat)
        fig[f"{key}build_ms_mean"] = _mean(run["build_ms"])
        fig[f"{key}workers"] = run["workers"]
        fig[f"{key}requests"] = len(lat)
        rc1 = label == "burst"
        rows += [
            _row(
                c,
                args,
                f"latency ms mean, {run['workers']} builders",
                _mean(lat),
                baseline=ready,
                rc1_key="latency_ms_mean" if rc1 else None,
            ),
            _row(
                c,
                args,
                f"latency ms p95, {run['workers']} builders",
                _p95(lat),
                baseline=ready,
                rc1_key="latency_ms_p95" if rc1 else None,
            ),
        ]
    rc1_row = published(c, "latency_ms_mean", args.device)
    _print(
        f"rc1 kasmina-prefetch: --requests {args.requests} --concurrency "
        f"{args.concurrency} --ready-latency-ms {ready} on {args.device}",
        rows,
        [
            "same-run baseline: the injected ready latency (no request can be "
            "ready sooner); builds themselves took "
            f"{fig['build_ms_mean']:.3g} ms mean inside that window",
            f"RC1 published at {rc1_row.conditions if rc1_row else 'n/a'}",
        ],
    )
    return fig


RUNNERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "steady-train": steady_train,
    "rollback": rollback,
    "tamiyo-timeout": tamiyo_timeout,
    "kasmina-prefetch": kasmina_prefetch,
}
