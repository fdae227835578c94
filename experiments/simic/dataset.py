"""Field reports joined with what became of each planted seed: the dataset.

A field report (workers/engine/policy/field_report.py) is one non-wait
decision: its inputs, the action, and the loss EWMA's change over the next
100 steps (success / neutral / regression at ±1%). The seed the decision
planted is found among the run's germinations (same step and slot) and its
fate read from its stage path: fossilised, culled, or still live when the run
ended. One row per germination, as JSON lines.
"""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from experiments.growth.record import RunRecord


def rows_of(record: RunRecord) -> Iterator[dict[str, Any]]:
    """The run's germination decisions, each with its seed's fate."""
    planted = {(g["step"], g.get("slot")): g for g in record.germinations}
    for report in record.notes.get("field_reports", []):
        decision = report["decision"]
        if decision.get("action") != "germinate":
            continue
        germ = planted.get((report["decision_step"], decision.get("slot")))
        if germ is None:  # G0 refused it: nothing was planted
            continue
        path = record.stage_paths.get(str(germ.get("seed_id")), [])
        fate = (
            "fossilized"
            if "FOSSILIZED" in path
            else "culled"
            if "CULLED" in path
            else "live"
        )
        figures = decision.get("figures") or {}
        yield {
            "task": record.task,
            "config": record.config,
            "rng_seed": record.seed,
            "decision_step": report["decision_step"],
            "slot": decision.get("slot"),
            "blueprint": decision.get("blueprint"),
            "inputs": report["inputs"],
            "propensity": figures.get("propensity"),
            "fate": fate,
            "reward": 1.0 if fate == "fossilized" else 0.0,
            "loss_outcome": report.get("outcome"),
            "loss_before": report.get("loss_before"),
            "loss_after": report.get("loss_after"),
            "run_val_acc": record.val_acc,
        }


def write(rows: Iterable[dict[str, Any]], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
            count += 1
    return count


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]
