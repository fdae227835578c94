"""The summary's arithmetic: per config rows, FLOPs to target, germination timing.

Pure functions of RunRecords, so they are unit tested without training. The
JSON shape is BENCHMARKS.md's: `{"tasks": {TASK: {CONFIG: row}}}`.
"""

import statistics
from collections.abc import Sequence
from typing import Any

from experiments.growth.record import CurvePoint, RunRecord

TARGET_SLACK = 0.003  # flops_to_target: static_final's mean accuracy minus this
CONVERGED_GAIN = 0.01  # a host has converged once its best improves no more than this


def flops_to_target(curve: Sequence[CurvePoint], target: float) -> int | None:
    """Cumulative training FLOPs at the first validation with accuracy >= target."""
    for point in curve:
        if point.val_acc >= target and point.flops is not None:
            return point.flops
    return None


def mean_curve(records: Sequence[RunRecord]) -> list[CurvePoint]:
    """The seeds' curves averaged validation by validation (every run of a
    config validates at the same epochs); FLOPs None if any run lacks them."""
    length = min(len(r.curve) for r in records)
    points = []
    for i in range(length):
        at = [r.curve[i] for r in records]
        flops = [p.flops for p in at]
        points.append(
            CurvePoint(
                step=at[0].step,
                epoch=at[0].epoch,
                flops=None if None in flops else round(_mean(flops)),
                val_acc=_mean([p.val_acc for p in at]),
                params=round(_mean([p.params for p in at])),
            )
        )
    return points


def _mean(values: Sequence[float | int | None]) -> float:
    return statistics.fmean(v for v in values if v is not None)


def sd(values: Sequence[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def config_row(records: Sequence[RunRecord], target: float | None) -> dict[str, Any]:
    """One config's row: accuracy, size, cost and seed counts over its runs."""
    accs = [r.val_acc for r in records]
    flops = [r.train_flops for r in records]
    curve = mean_curve(records)
    row: dict[str, Any] = {
        "val_acc_mean": statistics.fmean(accs),
        "val_acc_sd": sd(accs),
        "val_acc_min": min(accs),
        "val_acc_max": max(accs),
        "params": round(statistics.median(r.params for r in records)),
        "params_min": min(r.params for r in records),
        "params_max": max(r.params for r in records),
        "width": records[0].width,
        "train_flops": None if None in flops else round(_mean(flops)),
        "wall_s": statistics.fmean(r.wall_s for r in records),
        "seeds": [r.seed for r in records],
        "germinated": _count(records, "germinated"),
        "fossilised": _count(records, "fossilized"),
        "culled": _count(records, "culled"),
        "fossilised_per_run": [r.seeds.get("fossilized", 0) for r in records],
        "tamiyo_timeouts": sum(r.tamiyo_timeouts for r in records),
        "curve": [_point(p) for p in curve],
        "curve_acc_min": [
            min(r.curve[i].val_acc for r in records) for i in range(len(curve))
        ],
        "curve_acc_max": [
            max(r.curve[i].val_acc for r in records) for i in range(len(curve))
        ],
    }
    if target is not None:
        row["flops_to_target"] = flops_to_target(curve, target)
        row["flops_to_target_per_seed"] = [
            flops_to_target(r.curve, target) for r in records
        ]
    return row


def _count(records: Sequence[RunRecord], key: str) -> int:
    return sum(r.seeds.get(key, 0) for r in records)


def _point(p: CurvePoint) -> dict[str, Any]:
    return {
        "step": p.step,
        "epoch": p.epoch,
        "flops": p.flops,
        "val_acc": p.val_acc,
        "params": p.params,
    }


def converged_step(curve: Sequence[CurvePoint], gain: float = CONVERGED_GAIN) -> int:
    """The first validation's step after which the run's best accuracy rises by
    no more than `gain`: a host past it has converged (noise in single
    validations cannot move it, since only the running best counts)."""
    if not curve:
        return 0
    final_best = max(p.val_acc for p in curve)
    best = 0.0
    for point in curve:
        best = max(best, point.val_acc)
        if final_best - best <= gain:
            return point.step
    return curve[-1].step


def accuracy_at(curve: Sequence[CurvePoint], step: int) -> float | None:
    """The latest validation accuracy at or before `step` (None: none yet)."""
    seen = [p.val_acc for p in curve if p.step <= step]
    return seen[-1] if seen else None


def germination_timing(
    grown: Sequence[RunRecord], small: Sequence[RunRecord]
) -> list[dict[str, Any]]:
    """Each germination of the grown runs, placed on the static small run of
    the same RNG seed: how far that host had got, and whether it had converged."""
    by_seed = {r.seed: r for r in small}
    out = []
    for run in grown:
        host = by_seed.get(run.seed)
        for g in run.germinations:
            entry = {"seed": run.seed, **g}
            if host is not None:
                acc = accuracy_at(host.curve, g["step"])
                entry["small_acc"] = acc
                entry["small_acc_fraction"] = (
                    None if acc is None else acc / host.val_acc
                )
                entry["small_converged_step"] = converged_step(host.curve)
                entry["after_convergence"] = g["step"] > entry["small_converged_step"]
            out.append(entry)
    return out
