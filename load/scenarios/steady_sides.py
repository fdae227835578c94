"""The two sides of steady-train: the engine and a plain PyTorch loop on the
same model, data and optimizer, each returning its step-boundary stamps."""

import argparse
import contextlib
from typing import Any

import torch

from api_schemas.enums import SeedStage
from load.scenarios import uploads
from load.scenarios.common import bench_trainer, make_spec, now
from workers.engine.blueprints import build_seed
from workers.engine.hooks import EngineCommand, Hooks
from workers.engine.options import EngineOptions
from workers.engine.runtime import compile_host
from workers.engine.seeds.slot import find_slots
from workers.engine.tasks import load_task
from workers.engine.trainer import Trainer

SKIP = 10  # warm-up steps left out of every figure
SEED_BLUEPRINT = {"vector": "residual_mlp", "image": "conv3x3"}


def cuda(args: argparse.Namespace) -> bool:
    return str(args.device).startswith("cuda")


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.samples:
        options["samples"] = args.samples
    if args.compile:
        options["compile"] = True
    return options


def autocast(args: argparse.Namespace) -> Any:
    if cuda(args) and args.precision == "bf16":
        return torch.autocast("cuda", torch.bfloat16)
    return contextlib.nullcontext()


def stamp(args: argparse.Namespace, stamps: list[float], steps: int, skip: int):
    """Record a step boundary; on CUDA synchronise at the window's two ends."""
    if cuda(args) and len(stamps) in (skip, steps - 1):
        torch.cuda.synchronize()
    stamps.append(now())


def engine_run(
    args: argparse.Namespace, steps: int, graphs: bool | None = None
) -> list[float]:
    """The engine's stamps; `graphs` (default `--cuda-graphs`): the step as a
    CUDA graph (model.options.cuda_graphs)."""
    stamps: list[float] = []
    commands: list[EngineCommand] = []
    stamped_at = [-1]  # the optimizer step count at the last stamp

    def next_command() -> EngineCommand | None:
        if commands:
            return commands.pop()
        # One stamp per optimizer step: the engine also polls for commands
        # between the phases of an epoch end.
        if trainer.state.step != stamped_at[0]:
            stamped_at[0] = trainer.state.step
            stamp(args, stamps, steps, SKIP)
        return None

    spec = make_spec(
        args.task,
        args.width,
        args.depth,
        args.batch_size,
        steps,
        device=args.device,
        morphogenesis=morph(args),
        checkpoint_every=getattr(args, "checkpoint_every", None) or 10**7,
    )
    spec.model.options.update(model_options(args))
    if getattr(args, "cuda_graphs", False) if graphs is None else graphs:
        spec.model.options["cuda_graphs"] = True
    if args.seeds:
        commands.extend(seed_commands(args))
    hooks = Hooks(next_command=next_command)
    with (
        uploads.to_the_store(args, hooks),
        bench_trainer(
            spec,
            hooks,
            device=args.device,
            options=EngineOptions(mixed_precision=args.precision == "bf16"),
        ) as trainer,
    ):
        outcome = trainer.run()
    grown = fossils(trainer)
    if getattr(args, "grown", grown) != grown:
        print(f"warning: this engine run kept {grown}, the pilot {args.grown}")
    args.grown = grown
    if outcome.state != "completed":
        raise RuntimeError(f"engine run ended {outcome.state}: {outcome.error}")
    if spec.model.options.get("cuda_graphs"):
        args.graph_report = outcome.result.get("cuda_graphs")
    return stamps


def fossils(trainer: Trainer) -> list[str]:
    """The slots whose seed the engine fossilised (the others were culled)."""
    assert trainer.parts.seeds is not None
    return sorted(
        name
        for name, slot in trainer.parts.seeds.slots.items()
        if slot.stage is SeedStage.FOSSILIZED
    )


def morph(args: argparse.Namespace) -> dict[str, Any]:
    if not args.seeds:
        return {"enabled": False}
    # Seeds are placed by command; the policy stays idle so both sides match.
    return {
        "enabled": True,
        "max_seeds": 0,
        "gates": {"min_training_steps": 20, "g4_max_step_overhead": 100},
    }


def seed_commands(args: argparse.Namespace) -> list[EngineCommand]:
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


def plain_model(args: argparse.Namespace, device: torch.device) -> Any:
    spec = make_spec(args.task, args.width, args.depth, args.batch_size, 1)
    spec.model.options.update(model_options(args))
    task = load_task(args.task, spec.model, spec.seed, device)
    if args.seeds:  # the engine's final architecture: its fossilised seeds
        grown = set(args.grown)
        for name, slot in find_slots(task.host).items():
            if name not in grown:
                continue
            # Placed as a restore places a fossil (SeedManager.load_state).
            slot.stage = SeedStage.FOSSILIZED
            slot.attach(
                build_seed(SEED_BLUEPRINT[slot.kind], slot.shape, str(device)).module
            )
            slot.alpha = 1.0
    return task


def plain_run(args: argparse.Namespace, steps: int) -> list[float]:
    device = torch.device(args.device)
    task = plain_model(args, device)
    model, x_all, y_all = task.host, task.train_x, task.train_y
    if args.compile:
        compile_host(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    gen = torch.Generator().manual_seed(0)
    stamps: list[float] = []
    done = 0
    while done < steps:
        order = torch.randperm(x_all.shape[0], generator=gen).to(device)
        for index in order.split(args.batch_size):
            stamp(args, stamps, steps, SKIP)
            x, y = x_all[index], y_all[index]
            optimizer.zero_grad(set_to_none=True)
            with autocast(args):
                loss = task.loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            if device.type == "cpu":
                loss.item()  # a plain loop reads its loss too
            done += 1
            if done >= steps:
                break
        else:  # a plain loop validates each epoch too, as the engine does
            plain_validate(args, task)
    stamps.append(now())
    return stamps


@torch.no_grad()
def plain_validate(args: argparse.Namespace, task: Any) -> float:
    task.host.eval()
    total = torch.zeros((), device=task.val_x.device)
    with autocast(args):
        for start in range(0, task.val_x.shape[0], 1024):
            logits = task.host(task.val_x[start : start + 1024])
            total += task.loss_fn(logits, task.val_y[start : start + 1024]).float()
    task.host.train()
    return float(total)
