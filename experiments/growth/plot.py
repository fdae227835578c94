"""The figure: validation accuracy against cumulative training FLOPs.

One panel per task, one line per config (the seeds' mean at each
validation), with a band from the seeds' min to max.
"""

from pathlib import Path
from typing import Any

COLOURS = {
    "static_small": "tab:grey",
    "grown": "tab:red",
    "grown_pcgrad": "tab:orange",
    "grown_learned": "tab:brown",
    "static_final": "tab:blue",
    "static_large": "tab:green",
    "peer_gromo": "tab:purple",
}


def plot(doc: dict[str, Any], path: Path) -> bool:
    """Write the PNG; False (and nothing written) when no run reported FLOPs."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    tasks = [(name, rows) for name, rows in doc["tasks"].items() if _has_flops(rows)]
    if not tasks:
        return False
    fig, axes = plt.subplots(
        1, len(tasks), figsize=(5.5 * len(tasks), 4.2), squeeze=False
    )
    for ax, (name, rows) in zip(axes[0], tasks, strict=True):
        _panel(ax, name, rows)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _has_flops(rows: dict[str, Any]) -> bool:
    return any(p["flops"] is not None for row in rows.values() for p in row["curve"])


def _panel(ax: Any, name: str, rows: dict[str, Any]) -> None:
    for config, row in rows.items():
        points = [
            (p["flops"], p["val_acc"], lo, hi)
            for p, lo, hi in zip(
                row["curve"], row["curve_acc_min"], row["curve_acc_max"], strict=True
            )
            if p["flops"] is not None
        ]
        if not points:
            continue
        x, y, lo, hi = (list(v) for v in zip(*points, strict=True))
        colour = COLOURS.get(config)
        label = f"{config} ({row['params']} params)"
        ax.plot(x, y, color=colour, label=label, linewidth=1.6)
        ax.fill_between(x, lo, hi, color=colour, alpha=0.15, linewidth=0)
    if "target_acc" in rows.get("static_final", {}):
        ax.axhline(rows["static_final"]["target_acc"], color="black", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_title(name)
    ax.set_xlabel("cumulative training FLOPs")
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
