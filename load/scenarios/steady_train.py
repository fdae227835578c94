"""steady-train: the engine vs a plain PyTorch loop, same model, data, optimizer.

Both sides are timed the same way: wall time between consecutive step
boundaries (the engine's is its `next_command` poll), so the engine's whole
per-step overhead (telemetry dicts, command polling, halt checks, seed hooks,
isolation sampling) is inside its figure. Repeats are interleaved, alternating
which side goes first, to cancel drift on a shared machine.
"""

import argparse
import shutil
import statistics
from typing import Any

import torch

from api_schemas.enums import SeedStage
from load.scenarios.common import intervals_ms, make_spec, now, temp_dir
from load.stats import print_table, summarize, summary
from workers.engine.blueprints import build_seed
from workers.engine.hooks import EngineCommand, Hooks
from workers.engine.seeds.slot import find_slots
from workers.engine.tasks import load_task
from workers.engine.trainer import Trainer

SEED_BLUEPRINT = {"vector": "residual_mlp", "image": "conv3x3"}


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


def _engine_run(args: argparse.Namespace, steps: int) -> list[float]:
    stamps: list[float] = []
    commands: list[EngineCommand] = []

    def next_command() -> EngineCommand | None:
        if commands:
            return commands.pop()
        stamps.append(now())
        return None

    spec = make_spec(
        args.task,
        args.width,
        args.depth,
        args.batch_size,
        steps,
        device=args.device,
        morphogenesis=_morph(args),
    )
    folder = temp_dir()
    trainer = Trainer(
        spec,
        Hooks(next_command=next_command),
        run_id="bench",
        checkpoint_dir=folder,
        device=args.device,
    )
    if args.seeds:
        commands.extend(_seed_commands(args))
    outcome = trainer.run()
    shutil.rmtree(folder, ignore_errors=True)
    if outcome.state != "completed":
        raise RuntimeError(f"engine run ended {outcome.state}: {outcome.error}")
    return stamps


def _morph(args: argparse.Namespace) -> dict[str, Any]:
    if not args.seeds:
        return {"enabled": False}
    # Seeds are placed by command; the policy stays idle so both sides match.
    return {
        "enabled": True,
        "max_seeds": 0,
        "gates": {"min_training_steps": 20, "g4_max_step_overhead": 100},
    }


def _seed_commands(args: argparse.Namespace) -> list[EngineCommand]:
    task = load_task(
        args.task,
        make_spec(args.task, args.width, args.depth, 2, 1).model,
        0,
        torch.device("cpu"),
    )
    return [
        EngineCommand(
            f"seed-{name}",
            "seed_enable",
            {"slot": name, "blueprint": SEED_BLUEPRINT[slot.kind]},
        )
        for name, slot in find_slots(task.host).items()
    ]


def _plain_model(args: argparse.Namespace, device: torch.device) -> Any:
    spec = make_spec(args.task, args.width, args.depth, args.batch_size, 1)
    task = load_task(args.task, spec.model, spec.seed, device)
    if args.seeds:  # the same final architecture: every slot holds a full seed
        for slot in find_slots(task.host).values():
            built = build_seed(SEED_BLUEPRINT[slot.kind], slot.shape, str(device))
            slot.attach(built.module)
            for stage in (
                "DORMANT",
                "GERMINATED",
                "TRAINING",
                "BLENDING",
                "SHADOWING",
                "PROBATIONARY",
                "FOSSILIZED",
            ):
                slot.set_stage(SeedStage(stage))
            slot.alpha = 1.0
    return task


def _plain_run(args: argparse.Namespace, steps: int) -> list[float]:
    device = torch.device(args.device)
    task = _plain_model(args, device)
    model, x_all, y_all = task.host, task.train_x, task.train_y
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    gen = torch.Generator().manual_seed(0)
    stamps: list[float] = []
    done = 0
    while done < steps:
        order = torch.randperm(x_all.shape[0], generator=gen).to(device)
        for index in order.split(args.batch_size):
            stamps.append(now())
            x, y = x_all[index], y_all[index]
            optimizer.zero_grad(set_to_none=True)
            loss = task.loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            if device.type == "cpu":
                loss.item()  # a plain loop reads its loss too
            done += 1
            if done >= steps:
                break
    stamps.append(now())
    return stamps


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(torch.get_num_threads())
    steps = args.steps or (150 if args.quick else 400)
    repeats = args.repeats or (3 if args.quick else 5)
    engine_all, plain_all, ratios, mean_ratios = [], [], [], []
    for repeat in range(repeats):
        order = ("engine", "plain") if repeat % 2 == 0 else ("plain", "engine")
        got = {}
        for side in order:
            runner = _engine_run if side == "engine" else _plain_run
            got[side] = intervals_ms(runner(args, steps), skip=10)
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
    e, p = summarize(engine), summarize(plain)
    model = (
        f"task={args.task} width={args.width} depth={args.depth or 'default'} "
        f"batch={args.batch_size} Adam; {steps} steps x {repeats} repeats"
    )
    print_table(
        f"{name} on {args.device}: {model}",
        [{"side": "engine", **e}, {"side": "plain", **p}],
        ["side", "n", "min", "p50", "p95", "p99", "mean"],
    )
    ratio = statistics.median(ratios)
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
    }
    return summary(name, args.device, len(engine) + len(plain), figures)
