"""steady-train: the engine vs a plain PyTorch loop, same model, data, optimizer.

Both sides are timed the same way: wall time between consecutive step
boundaries (the engine's is its `next_command` poll), so the engine's whole
per-step overhead (telemetry dicts, command polling, halt checks, seed hooks,
isolation sampling) is inside its figure. Repeats are interleaved, alternating
which side goes first, to cancel drift on a shared machine.

On CUDA a step boundary on the host says nothing about the device (work is
queued asynchronously), so there both sides synchronise at two boundaries
only, after the warm-up and at the last step, and the figure is the mean step
time over that window. Both sides then run the same precision (bf16 autocast
unless `--precision fp32`), the same optional `torch.compile` of the host's
blocks, and validate at the same epoch ends; GPU utilisation is sampled.
"""

import argparse
import statistics
import threading
from typing import Any

import torch

from load.scenarios import steady_sides as sides
from load.scenarios import uploads
from load.scenarios.common import intervals_ms, now
from load.stats import device_description, print_table, summarize, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--task", default="digits")
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--seeds",
        action="store_true",
        help="morphogenesis active: seeds training and blending",
    )
    parser.add_argument(
        "--samples", type=int, default=None, help="synthetic-images data set size"
    )
    parser.add_argument(
        "--precision",
        choices=["bf16", "fp32"],
        default="bf16",
        help="CUDA: both sides under bf16 autocast, or both in fp32",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the host's blocks on both sides",
    )
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="CUDA: the engine's step as a CUDA graph (model.options.cuda_graphs); "
        "the engine's eager loop runs as a third side (engine-eager)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        metavar="N",
        help="the engine checkpoints every N steps to a local artifact store "
        "(its real uploader); the plain loop does not checkpoint",
    )


class _Utilisation:
    """Samples torch.cuda.utilization() (NVML) every 50 ms while running."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if sides.cuda(args):
            try:
                torch.cuda.utilization(torch.device(args.device))
            except Exception:  # no NVML: no utilisation figure
                return
            self._thread = threading.Thread(target=self._loop, args=(args,))

    def _loop(self, args: argparse.Namespace) -> None:
        device = torch.device(args.device)
        while not self._stop.wait(0.05):
            self.samples.append(float(torch.cuda.utilization(device)))

    def __enter__(self) -> "_Utilisation":
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def mean(self) -> float | None:
        # Skip the first samples: set-up and warm-up are not steady state.
        tail = self.samples[len(self.samples) // 4 :]
        return statistics.fmean(tail) if tail else None


def _window_ms(stamps: list[float], steps: int) -> float:
    """CUDA: mean step time between the two synchronised boundaries."""
    return (stamps[steps - 1] - stamps[sides.SKIP]) * 1000 / (steps - 1 - sides.SKIP)


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(torch.get_num_threads())
    steps = args.steps or (150 if args.quick else 400)
    repeats = args.repeats or (3 if args.quick else 5)
    args.warmup_s = None
    if args.seeds or args.compile:
        # An untimed pilot run. --seeds: it learns which seeds the engine
        # keeps. --compile: compiled graphs are cached per code object, so
        # they are shared by every later run on both sides; the pilot pays
        # their compilation (train, eval, every input shape) outside the
        # timed window, and its wall time is the warm-up figure.
        started = now()
        sides.engine_run(args, steps)
        args.warmup_s = now() - started
        if args.compile:
            print(
                f"compile warm-up: pilot engine run of {steps} steps took "
                f"{args.warmup_s:.1f} s (graphs then shared by both sides)"
            )
    if sides.cuda(args):
        return _run_cuda(args, steps, repeats)
    engine_all, plain_all, ratios, mean_ratios = [], [], [], []
    for repeat in range(repeats):
        order = ("engine", "plain") if repeat % 2 == 0 else ("plain", "engine")
        got = {}
        for side in order:
            runner = sides.engine_run if side == "engine" else sides.plain_run
            got[side] = intervals_ms(runner(args, steps), skip=sides.SKIP)
        engine_all += got["engine"]
        plain_all += got["plain"]
        ratios.append(
            statistics.median(got["engine"]) / statistics.median(got["plain"])
        )
        mean_ratios.append(
            statistics.fmean(got["engine"]) / statistics.fmean(got["plain"])
        )
    return _report(args, steps, repeats, engine_all, plain_all, ratios, mean_ratios)


def _report(
    args: argparse.Namespace,
    steps: int,
    repeats: int,
    engine: list[float],
    plain: list[float],
    ratios: list[float],
    mean_ratios: list[float],
) -> dict[str, Any]:
    name = "steady-train --seeds" if args.seeds else "steady-train"
    if args.checkpoint_every:
        name += f" --checkpoint-every {args.checkpoint_every}"
    e, p = summarize(engine), summarize(plain)
    model = _describe(args, steps, repeats)
    print_table(
        f"{name} on {args.device}: {model}",
        [{"side": "engine", **e}, {"side": "plain", **p}],
        ["side", "n", "min", "p50", "p95", "p99", "mean"],
    )
    ratio = statistics.median(ratios)
    if uploads.summary(args):
        print(uploads.summary(args))
    print(
        f"ratio engine/plain (per-repeat p50): median {ratio:.4f}  min "
        f"{min(ratios):.4f}  max {max(ratios):.4f}  (goal <= "
        f"{1.25 if args.seeds else 1.05})"
    )
    print(
        f"ratio of means (includes epoch-end validation): median "
        f"{statistics.median(mean_ratios):.4f}"
    )
    figures = {
        "engine_step_ms_p50": e["p50"],
        "plain_step_ms_p50": p["p50"],
        "ratio_engine_to_plain": ratio,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "ratio_of_means": statistics.median(mean_ratios),
        "engine_step_ms": e,
        "plain_step_ms": p,
        "model": model,
        "seeds": bool(args.seeds),
        "checkpoint_every": args.checkpoint_every,
        "uploads": uploads.summary(args),
    }
    return summary(name, args.device, len(engine) + len(plain), figures)


def _describe(args: argparse.Namespace, steps: int, repeats: int) -> str:
    extra = f" samples={args.samples}" if args.samples else ""
    extra += " compiled" if args.compile else ""
    precision = args.precision if sides.cuda(args) else "fp32"
    if args.seeds:
        extra += f"; plain has the engine's fossilised seeds: {args.grown}"
    return (
        f"task={args.task} width={args.width} depth={args.depth or 'default'} "
        f"batch={args.batch_size} Adam {precision}{extra}; {steps} steps x "
        f"{repeats} repeats"
    )


def _runner(side: str) -> Any:
    if side == "engine-eager":  # --cuda-graphs: the engine without them
        return lambda args, steps: sides.engine_run(args, steps, graphs=False)
    return sides.engine_run if side == "engine" else sides.plain_run


def _run_cuda(args: argparse.Namespace, steps: int, repeats: int) -> dict[str, Any]:
    name = "steady-train --seeds" if args.seeds else "steady-train"
    graphs = bool(getattr(args, "cuda_graphs", False))
    names = ["engine", "plain"] + (["engine-eager"] if graphs else [])
    if graphs:
        name += " --cuda-graphs"
    per_side: dict[str, list[float]] = {side: [] for side in names}
    util: dict[str, list[float]] = {side: [] for side in names}
    first_step: dict[str, list[float]] = {side: [] for side in names}
    for repeat in range(repeats):
        shift = repeat % len(names)  # each side goes first in turn
        order = names[shift:] + names[:shift]
        for side in order:
            runner = _runner(side)
            with _Utilisation(args) as sampler:
                stamps = runner(args, steps)
            per_side[side].append(_window_ms(stamps, steps))
            first_step[side].append((stamps[1] - stamps[0]) * 1000)
            if sampler.mean() is not None:
                util[side].append(sampler.mean())  # type: ignore[arg-type]
    ratios = [e / p for e, p in zip(per_side["engine"], per_side["plain"], strict=True)]
    rows = []
    for side in names:
        values = per_side[side]
        rows.append(
            {
                "side": side,
                "repeats": len(values),
                "min": min(values),
                "median": statistics.median(values),
                "max": max(values),
                "gpu_util_%": statistics.fmean(util[side]) if util[side] else "n/a",
                "first_step": statistics.median(first_step[side]),
            }
        )
    print_table(
        f"{name} on {device_description(args.device)}, torch {torch.__version__}: "
        f"{_describe(args, steps, repeats)}; mean step ms over synchronised "
        f"steps {sides.SKIP + 1}..{steps - 1}",
        rows,
        ["side", "repeats", "min", "median", "max", "gpu_util_%", "first_step"],
    )
    ratio = statistics.median(ratios)
    goal = "< 1.0" if graphs else f"<= {1.25 if args.seeds else 1.05}"
    print(
        f"ratio engine/plain (per repeat): median {ratio:.4f}  min {min(ratios):.4f}"
        f"  max {max(ratios):.4f}  (goal {goal})"
    )
    extra: dict[str, Any] = {}
    if graphs:
        eager = [
            e / p
            for e, p in zip(per_side["engine-eager"], per_side["plain"], strict=True)
        ]
        vs_eager = [
            e / p
            for e, p in zip(per_side["engine"], per_side["engine-eager"], strict=True)
        ]
        print(
            f"ratio engine-eager/plain: median {statistics.median(eager):.4f}; "
            f"engine (graphs)/engine-eager: median {statistics.median(vs_eager):.4f}"
        )
        print(f"graphs in the last engine run: {getattr(args, 'graph_report', None)}")
        extra = {
            "ratio_eager_engine_to_plain": statistics.median(eager),
            "ratio_graphs_to_eager_engine": statistics.median(vs_eager),
            "graph_report": getattr(args, "graph_report", None),
        }
    figures = {
        "engine_step_ms_p50": statistics.median(per_side["engine"]),
        "plain_step_ms_p50": statistics.median(per_side["plain"]),
        "ratio_engine_to_plain": ratio,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "ratios": ratios,
        "engine_step_ms": per_side["engine"],
        "plain_step_ms": per_side["plain"],
        "gpu_util_pct": {k: v for k, v in util.items()},
        "first_step_ms": first_step,
        "model": _describe(args, steps, repeats),
        "seeds": bool(args.seeds),
        "precision": args.precision,
        "compiled": bool(args.compile),
        "compile_warmup_s": args.warmup_s if args.compile else None,
        "cuda_graphs": graphs,
        **extra,
    }
    return summary(name, args.device, sum(len(v) for v in per_side.values()), figures)
