"""Small statistics and reporting helpers shared by every scenario."""

import platform
import statistics
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no samples."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarize(values: Sequence[float]) -> dict[str, float]:
    """min/median/p95/p99/mean and the sample count."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min": min(values),
        "p50": statistics.median(values),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "mean": statistics.fmean(values),
    }


def print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A fixed-width table; floats with 4 significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    widths = {
        c: max([len(c)] + [len(cell(r.get(c, ""))) for r in rows]) for c in columns
    }
    print(f"\n{title}")
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(cell(row.get(c, "")).ljust(widths[c]) for c in columns))


def device_description(device: str = "cpu") -> str:
    if device.startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({platform.processor() or platform.machine()})"


def torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


def summary(
    scenario: str, device: str, samples: int, figures: dict[str, Any]
) -> dict[str, Any]:
    """The JSON summary every scenario writes."""
    return {
        "scenario": scenario,
        "device": device_description(device),
        "torch": torch_version(),
        "samples": samples,
        "figures": figures,
    }
