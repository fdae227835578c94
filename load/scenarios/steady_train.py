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
import contextlib
import shutil
import statistics
import threading
from typing import Any

import torch

from api_schemas.enums import SeedStage
from load.scenarios.common import intervals_ms, make_spec, now, temp_dir
from load.stats import device_description, print_table, summarize, summary
from workers.engine.blueprints import build_seed
from workers.engine.hooks import EngineCommand, Hooks
from workers.engine.options import EngineOptions
from workers.engine.seeds.slot import find_slots
from workers.engine.tasks import load_task
from workers.engine.trainer import Trainer, compile_host

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


def _cuda(args: argparse.Namespace) -> bool:
    return str(args.device).startswith("cuda")


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.samples:
        options["samples"] = args.samples
    if args.compile:
        options["compile"] = True
    return options


def _autocast(args: argparse.Namespace) -> Any:
    if _cuda(args) and args.precision == "bf16":
        return torch.autocast("cuda", torch.bfloat16)
    return contextlib.nullcontext()


def _stamp(args: argparse.Namespace, stamps: list[float], steps: int, skip: int):
    """Record a step boundary; on CUDA synchronise at the window's two ends."""
    if _cuda(args) and len(stamps) in (skip, steps - 1):
        torch.cuda.synchronize()
    stamps.append(now())


def _engine_run(args: argparse.Namespace, steps: int) -> list[float]:
    stamps: list[float] = []
    commands: list[EngineCommand] = []
    stamped_at = [-1]  # the optimizer step count at the last stamp

    def next_command() -> EngineCommand | None:
        if commands:
            return commands.pop()
        # One stamp per optimizer step: the engine also polls for commands
        # between the phases of an epoch end.
        if trainer.step != stamped_at[0]:
            stamped_at[0] = trainer.step
            _stamp(args, stamps, steps, SKIP)
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
    spec.model.options.update(_model_options(args))
    folder = temp_dir()
    trainer = Trainer(
        spec,
        Hooks(next_command=next_command),
        run_id="bench",
        checkpoint_dir=folder,
        device=args.device,
        options=EngineOptions(mixed_precision=args.precision == "bf16"),
    )
    if args.seeds:
        commands.extend(_seed_commands(args))
    outcome = trainer.run()
    grown = _fossils(trainer)
    if getattr(args, "grown", grown) != grown:
        print(f"warning: this engine run kept {grown}, the pilot {args.grown}")
    args.grown = grown
    shutil.rmtree(folder, ignore_errors=True)
    if outcome.state != "completed":
        raise RuntimeError(f"engine run ended {outcome.state}: {outcome.error}")
    return stamps


def _fossils(trainer: Trainer) -> list[str]:
    """The slots whose seed the engine fossilised (the others were culled)."""
    assert trainer.seeds is not None
    return sorted(name for name, slot in trainer.seeds.slots.items()
                  if slot.stage is SeedStage.FOSSILIZED)


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
    spec.model.options.update(_model_options(args))
    task = load_task(args.task, spec.model, spec.seed, device)
    if args.seeds:  # the engine's final architecture: its fossilised seeds
        grown = set(args.grown)
        for name, slot in find_slots(task.host).items():
            if name not in grown:
                continue
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
    if args.compile:
        compile_host(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    gen = torch.Generator().manual_seed(0)
    stamps: list[float] = []
    done = 0
    while done < steps:
        order = torch.randperm(x_all.shape[0], generator=gen).to(device)
        for index in order.split(args.batch_size):
            _stamp(args, stamps, steps, SKIP)
            x, y = x_all[index], y_all[index]
            optimizer.zero_grad(set_to_none=True)
            with _autocast(args):
                loss = task.loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            if device.type == "cpu":
                loss.item()  # a plain loop reads its loss too
            done += 1
            if done >= steps:
                break
        else:  # a plain loop validates each epoch too, as the engine does
            _plain_validate(args, task)
    stamps.append(now())
    return stamps


@torch.no_grad()
def _plain_validate(args: argparse.Namespace, task: Any) -> float:
    task.host.eval()
    total = torch.zeros((), device=task.val_x.device)
    with _autocast(args):
        for start in range(0, task.val_x.shape[0], 1024):
            logits = task.host(task.val_x[start : start + 1024])
            total += task.loss_fn(logits, task.val_y[start : start + 1024]).float()
    task.host.train()
    return float(total)


class _Utilisation:
    """Samples torch.cuda.utilization() (NVML) every 50 ms while running."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if _cuda(args):
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


SKIP = 10  # warm-up steps left out of every figure


def _window_ms(stamps: list[float], steps: int) -> float:
    """CUDA: mean step time between the two synchronised boundaries."""
    return (stamps[steps - 1] - stamps[SKIP]) * 1000 / (steps - 1 - SKIP)


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
        _engine_run(args, steps)
        args.warmup_s = now() - started
        if args.compile:
            print(f"compile warm-up: pilot engine run of {steps} steps took "
                  f"{args.warmup_s:.1f} s (graphs then shared by both sides)")
    if _cuda(args):
        return _run_cuda(args, steps, repeats)
    engine_all, plain_all, ratios, mean_ratios = [], [], [], []
    for repeat in range(repeats):
        order = ("engine", "plain") if repeat % 2 == 0 else ("plain", "engine")
        got = {}
        for side in order:
            runner = _engine_run if side == "engine" else _plain_run
            got[side] = intervals_ms(runner(args, steps), skip=SKIP)
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
    model = _describe(args, steps, repeats)
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


def _describe(args: argparse.Namespace, steps: int, repeats: int) -> str:
    extra = f" samples={args.samples}" if args.samples else ""
    extra += " compiled" if args.compile else ""
    precision = args.precision if _cuda(args) else "fp32"
    if args.seeds:
        extra += f"; plain has the engine's fossilised seeds: {args.grown}"
    return (
        f"task={args.task} width={args.width} depth={args.depth or 'default'} "
        f"batch={args.batch_size} Adam {precision}{extra}; {steps} steps x "
        f"{repeats} repeats"
    )


def _run_cuda(args: argparse.Namespace, steps: int, repeats: int) -> dict[str, Any]:
    name = "steady-train --seeds" if args.seeds else "steady-train"
    per_side: dict[str, list[float]] = {"engine": [], "plain": []}
    util: dict[str, list[float]] = {"engine": [], "plain": []}
    first_step: dict[str, list[float]] = {"engine": [], "plain": []}
    for repeat in range(repeats):
        order = ("engine", "plain") if repeat % 2 == 0 else ("plain", "engine")
        for side in order:
            runner = _engine_run if side == "engine" else _plain_run
            with _Utilisation(args) as sampler:
                stamps = runner(args, steps)
            per_side[side].append(_window_ms(stamps, steps))
            first_step[side].append((stamps[1] - stamps[0]) * 1000)
            if sampler.mean() is not None:
                util[side].append(sampler.mean())  # type: ignore[arg-type]
    ratios = [e / p for e, p in zip(per_side["engine"], per_side["plain"], strict=True)]
    rows = []
    for side in ("engine", "plain"):
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
        f"steps {SKIP + 1}..{steps - 1}",
        rows,
        ["side", "repeats", "min", "median", "max", "gpu_util_%", "first_step"],
    )
    ratio = statistics.median(ratios)
    print(
        f"ratio engine/plain (per repeat): median {ratio:.4f}  min {min(ratios):.4f}"
        f"  max {max(ratios):.4f}  (goal <= {1.25 if args.seeds else 1.05})"
    )
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
    }
    return summary(name, args.device, sum(len(v) for v in per_side.values()), figures)
