"""The JSON summary (BENCHMARKS.md's shape) and the goals of issue 21.

`{"tasks": {TASK: {CONFIG: row}}}` with extra top-level keys: the machine and
command, the harmful-blueprint runs, each task's germination timing and the
goals' verdicts.
"""

import math
import statistics
from collections import Counter
from typing import Any

from experiments.growth.experiment import CONFIGS, HARMFUL, VARIANTS, Results
from experiments.growth.record import RunRecord
from experiments.growth.summary import TARGET_SLACK, config_row, germination_timing
from workers.engine.policy.learned import load_weights

FLOPS_GOAL, FLOPS_STRETCH = 0.85, 0.75
ACC_GOAL = 0.003  # grown within 0.3 points of static_final
SD_GOAL = 2.0  # grown beats static_small by more than this many SDs


def build(results: Results, meta: dict[str, Any]) -> dict[str, Any]:
    """The whole summary: rows per task and config, timing, harmful, goals."""
    tasks: dict[str, dict[str, Any]] = {}
    timing: dict[str, Any] = {}
    for name, configs in results.runs.items():
        tasks[name] = task_rows(configs)
        if "grown" in configs:
            timing[name] = _timing(configs)
    doc = {**meta, "tasks": tasks, "germination": timing}
    doc["variants"] = {
        name: compared
        for name, configs in results.runs.items()
        if (compared := variants(configs))
    }
    doc["harmful"] = harmful_rows(results.harmful)
    settings = meta.get("settings", {})
    if settings.get("policy", "heuristic") != "heuristic":
        doc["learned_policy"] = learned_policy(str(settings.get("policy_weights")))
    doc["goals"] = goals(doc)
    return doc


def task_rows(configs: dict[str, list[RunRecord]]) -> dict[str, Any]:
    """Each config's row; FLOPs to target where static_final has run."""
    final = configs.get("static_final")
    target = None
    if final:
        target = config_row(final, None)["val_acc_mean"] - TARGET_SLACK
    rows = {}
    for config in CONFIGS:
        if config in configs:
            rows[config] = config_row(configs[config], target)
    if target is not None:
        for row in rows.values():
            row["target_acc"] = target
    return rows


def learned_policy(name: str) -> dict[str, Any]:
    """What the learned policy's weights file says of its training."""
    weights = load_weights(name)
    return {"weights": name, "threshold": weights.threshold, **weights.trained}


def variants(configs: dict[str, list[RunRecord]]) -> dict[str, Any]:
    """Each variant of `grown` against it, seed by seed (same RNG seeds, one
    setting changed): the paired accuracy difference and its standard error,
    the seeds it won, its FLOPs over grown's, how its seeds ended."""
    grown = {r.seed: r for r in configs.get("grown", [])}
    out: dict[str, Any] = {}
    for config in VARIANTS:
        runs = [r for r in configs.get(config, []) if r.seed in grown]
        if not runs:
            continue
        diffs = [100 * (r.val_acc - grown[r.seed].val_acc) for r in runs]
        flops = [(r.train_flops, grown[r.seed].train_flops) for r in runs]
        mean = sum(diffs) / len(diffs)
        sd = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
        out[config] = {
            "seeds": [r.seed for r in runs],
            "acc_diff_points": mean,
            "acc_diff_se_points": sd / math.sqrt(len(diffs)),
            "acc_diff_per_seed": diffs,
            "wins": sum(d > 0 for d in diffs),
            "ties": sum(d == 0 for d in diffs),
            "flops_ratio": None
            if any(a is None or not b for a, b in flops)
            else sum(a or 0 for a, _ in flops) / sum(b or 0 for _, b in flops),
            "seeds_ended": _ended(runs),
            "grown_seeds_ended": _ended([grown[r.seed] for r in runs]),
            "first_germination_step": _first_growth(runs),
            "grown_first_germination_step": _first_growth(
                [grown[r.seed] for r in runs]
            ),
            "g4_step_time_failures": _step_time_failures(runs),
            "grown_g4_step_time_failures": _step_time_failures(
                [grown[r.seed] for r in runs]
            ),
            "split_steps": sum(int(r.notes.get("split_steps", 0)) for r in runs),
            "conflicts": sum(int(r.notes.get("conflicts", 0)) for r in runs),
        }
    return out


def _step_time_failures(runs: list[RunRecord]) -> int:
    """Seeds G4 failed on step time (wall clock: the machine's load counts)."""
    return sum(
        f.get("gate") == "G4" and "step time" in str(f.get("reason"))
        for r in runs
        for f in r.gate_failures
    )


def _first_growth(runs: list[RunRecord]) -> float | None:
    """Mean step of the runs' first germination (runs that germinated)."""
    firsts = [min(g["step"] for g in r.germinations) for r in runs if r.germinations]
    return sum(firsts) / len(firsts) if firsts else None


def _ended(runs: list[RunRecord]) -> str:
    keys = ("germinated", "fossilized", "culled")
    return " / ".join(str(sum(r.seeds.get(k, 0) for r in runs)) for k in keys)


def _timing(configs: dict[str, list[RunRecord]]) -> dict[str, Any]:
    grown = configs["grown"]
    decisions = Counter(
        f"{d['action']}: {d['reason']}" for r in grown for d in r.decisions
    )
    failures = [{"seed": r.seed, **f} for r in grown for f in r.gate_failures]
    return {
        "germinations": germination_timing(grown, configs.get("static_small", [])),
        "decisions": dict(decisions.most_common()),
        "waits": sum(r.waits for r in grown),
        "gate_failures": failures,
        # Wall-clock signals that could decide growth on a loaded machine.
        "tamiyo_timeouts": sum(r.tamiyo_timeouts for r in grown),
        "g4_step_time_failures": sum(
            f["gate"] == "G4" and "step time" in str(f["reason"]) for f in failures
        ),
    }


def harmful_rows(runs: list[RunRecord]) -> list[dict[str, Any]]:
    rows = []
    for r in runs:
        noise = [p for p in r.stage_paths.values() if p][:1]
        path = noise[0] if noise else []
        rows.append(
            {
                "seed": r.seed,
                "path": path,
                "culled": "CULLED" in path and "FOSSILIZED" not in path,
                "gate_failures": r.gate_failures,
                "val_acc": r.val_acc,
            }
        )
    return rows


def goals(doc: dict[str, Any]) -> dict[str, Any]:
    """Issue 21's goals, per task where its configs ran, and overall."""
    out: dict[str, Any] = {}
    for name, rows in doc["tasks"].items():
        out[name] = task_goals(rows, doc["germination"].get(name, {}))
    harmful = doc["harmful"]
    out[HARMFUL] = {
        "culled_every_seed": bool(harmful) and all(h["culled"] for h in harmful),
        "seeds": len(harmful),
    }
    return out


def task_goals(rows: dict[str, Any], timing: dict[str, Any]) -> dict[str, Any]:
    grown, final, small = (
        rows.get("grown"),
        rows.get("static_final"),
        rows.get("static_small"),
    )
    if not (grown and final and small):
        return {}
    to_target, final_flops = grown.get("flops_to_target"), final["train_flops"]
    ratio = _ratio(to_target, final_flops)
    spread = max(grown["val_acc_sd"], small["val_acc_sd"])
    germs = timing.get("germinations", [])
    return {
        "acc_gap_points": 100 * (grown["val_acc_mean"] - final["val_acc_mean"]),
        # The gap's standard error: how far seed noise alone moves it.
        "acc_gap_se_points": 100 * _se(grown, final),
        "within_0.3_points": grown["val_acc_mean"] >= final["val_acc_mean"] - ACC_GOAL,
        "flops_to_target_over_final_train_flops": ratio,
        "flops_goal_85pct": ratio is not None and ratio <= FLOPS_GOAL,
        "flops_stretch_75pct": ratio is not None and ratio <= FLOPS_STRETCH,
        "flops_to_target_over_final_flops_to_target": _ratio(
            to_target, final.get("flops_to_target")
        ),
        "beats_small_by_sd": (grown["val_acc_mean"] - small["val_acc_mean"]) / spread
        if spread > 0
        else None,
        "beats_small_2sd": grown["val_acc_mean"] - small["val_acc_mean"]
        > SD_GOAL * spread,
        "germinations": len(germs),
        "germinated_after_convergence": sum(
            bool(g.get("after_convergence")) for g in germs
        ),
    }


def _se(a: dict[str, Any], b: dict[str, Any]) -> float:
    return math.sqrt(sum(row["val_acc_sd"] ** 2 / len(row["seeds"]) for row in (a, b)))


def _ratio(a: int | None, b: int | None) -> float | None:
    return None if a is None or not b else a / b
