"""`python -m experiments.simic collect|train`: the learned policy's pipeline.

collect: grown runs of the growth experiment's tasks with the learned policy
  in exploring mode (random germinations within the heuristic's hard rules,
  propensities recorded); each run's field reports joined with its seeds'
  fates into a JSON-lines dataset.
train: the bandit fitted on a dataset, written as the policy's weights file
  (default workers/engine/policy/weights/growth-bandit.json, shipped with the
  workers; runs name it with `policy_options: {"weights": "growth-bandit"}`).
Evaluation against the heuristic is `python -m experiments.growth --policy
both --first-seed N` on RNG seeds the dataset did not use
(docs/growth-variants/growth.md).
"""

import argparse
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from experiments.growth.experiment import warm_up
from experiments.growth.plans import PLANS, scaled_epochs
from experiments.growth.record import RunRecord
from experiments.growth.runner import Job, run_engine
from experiments.simic import dataset
from experiments.simic.train import train
from workers.engine.policy.learned import WEIGHTS_DIR

ROOT = Path(__file__).resolve().parents[2]
# A missed decision deadline puts the policy in conservative mode (no growth
# for 50 steps): on a loaded machine that, not the policy, would decide what
# the data holds. The exploring policy answers in microseconds anyway.
COLLECT_TIMING = {"decision_deadline_ms": 1000.0}
DEFAULT_DATA = ROOT / "experiments" / "simic" / "data" / "field_reports.jsonl"


def collect_jobs(args: argparse.Namespace) -> list[Job]:
    jobs = []
    for name in args.tasks.split(","):
        plan = PLANS[name]
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            options: dict[str, Any] = {
                "weights": "",
                "explore": args.explore,
                "explore_seed": seed,
            }
            if args.max_live is not None:
                options["max_live"] = args.max_live
            morph = {**COLLECT_TIMING, "policy": "learned", "policy_options": options}
            epochs = scaled_epochs(plan, args.epochs_scale)
            jobs.append(
                Job(plan, "explore", plan.small_width, seed, epochs, True, morph)
            )
    return jobs


def collect(args: argparse.Namespace) -> None:
    jobs = collect_jobs(args)
    started = time.perf_counter()
    records: list[RunRecord] = []
    tasks = sorted({job.plan.name for job in jobs})
    with ProcessPoolExecutor(
        args.workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=warm_up,
        initargs=(tasks,),
    ) as pool:
        for record in pool.map(run_engine, jobs):
            records.append(record)
            print(
                f"[{time.perf_counter() - started:5.0f} s] {record.task} seed "
                f"{record.seed}: {record.seeds}",
                flush=True,
            )
    rows = [row for record in records for row in dataset.rows_of(record)]
    count = dataset.write(rows, args.out)
    fates: dict[str, int] = {}
    for row in rows:
        fates[row["fate"]] = fates.get(row["fate"], 0) + 1
    print(f"{count} rows from {len(records)} runs -> {args.out}: {fates}")


def train_command(args: argparse.Namespace) -> None:
    rows = [row for path in args.data for row in dataset.read(path)]
    weights = train(rows, l2=args.l2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(weights, indent=1) + "\n")
    print(json.dumps(weights["trained"], indent=1))
    print(f"-> {args.out}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m experiments.simic")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="exploring runs -> field-report dataset")
    c.add_argument("--tasks", default="spirals,mnist1d,mnist1d-cnn")
    c.add_argument("--seeds", type=int, default=8)
    c.add_argument("--first-seed", type=int, default=0)
    c.add_argument("--epochs-scale", type=float, default=1.0)
    c.add_argument("--explore", type=float, default=0.2)
    c.add_argument("--max-live", type=int)
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--out", type=Path, default=DEFAULT_DATA)
    t = sub.add_parser("train", help="dataset -> the policy's weights file")
    t.add_argument("--data", type=Path, nargs="+", default=[DEFAULT_DATA])
    t.add_argument("--l2", type=float, help="default: chosen by cross-validation")
    t.add_argument("--out", type=Path, default=WEIGHTS_DIR / "growth-bandit.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.command == "collect":
        collect(args)
    else:
        train_command(args)


if __name__ == "__main__":
    main(sys.argv[1:])
