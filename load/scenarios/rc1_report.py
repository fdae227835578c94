"""rc1's report: the rows and tables every case prints (a figure beside its
same-run baseline and RC1's published figure, each as a ratio)."""

import argparse
import math
import statistics
from typing import Any

from load.scenarios.rc1_baselines import published
from load.stats import percentile, print_table


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def row(
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
        "same-run ratio": _or_blank(ratio(value, baseline)),
        "RC1 published": "" if rc1 is None else rc1.value,
        "vs RC1 published": "" if rc1 is None else _or_blank(ratio(value, rc1.value)),
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


def print_case(title: str, rows: list[dict[str, Any]], notes: list[str]) -> None:
    print_table(title, rows, COLUMNS)
    for note in notes:
        print(f"  {note}")


def p95(values: list[float]) -> float:
    return percentile(values, 95)


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")
