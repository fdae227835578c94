"""rc1 steady-train and tamiyo-timeout: the engine's Trainer for `--epochs`
epochs, its step and epoch latencies, and the policy deadline's counter.

Step latency is the wall time between consecutive step boundaries (the
engine's `next_command` poll), as in `python -m load steady-train`. The one
interval per epoch that spans the epoch end (validation, snapshot) is left
out on both sides: the engine is stamped at its epoch-end command drain, the
plain loop just before it validates, and the interval starting there is the
one dropped. Epoch latency is RC1's `tolaria.training.latency_ms` figure: the
engine's own `tolaria.samples_per_s` turned back into the epoch's training
time (its first boundary to its last step, validation excluded), and the
plain loop's same span (synchronised on CUDA, as the engine's epoch-end read
back is)."""

import argparse
import statistics
from dataclasses import dataclass, field
from typing import Any

import torch

from load.scenarios import steady_sides as sides
from load.scenarios.common import bench_trainer, now
from load.scenarios.rc1_workload import SLOW_POLICY, rc1_spec
from workers.engine.hooks import EngineCommand, Hooks, Packet
from workers.engine.options import EngineOptions
from workers.engine.runtime import compile_host

SKIP = 5  # warm-up intervals left out of step figures, each run


@dataclass
class Sample:
    """One run's figures."""

    step_ms: list[float] = field(default_factory=list)
    epoch_ms: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _clean_intervals(stamps: list[tuple[float, bool]]) -> list[float]:
    """Intervals in ms between stamps, except those starting at an epoch end."""
    out = [
        (b - a) * 1000
        for (a, at_end), (b, _) in zip(stamps, stamps[1:], strict=False)
        if not at_end
    ]
    return out[SKIP:]


def engine_run(
    args: argparse.Namespace,
    *,
    morphogenesis: dict[str, Any] | None = None,
    options: EngineOptions | None = None,
) -> tuple[Sample, Any]:
    """One engine run; (its figures, the trainer after the run)."""
    stamps: list[tuple[float, bool]] = []
    packets: list[Packet] = []
    seen = [-1]

    def next_command() -> EngineCommand | None:
        state = trainer.state
        if state.step != seen[0]:  # one stamp per optimizer step
            seen[0] = state.step
            # batch_in_epoch is 0 again only once the epoch has ended.
            at_end = state.step > 0 and state.batch_in_epoch == 0
            stamps.append((now(), at_end))
        return None

    spec = rc1_spec(args, morphogenesis=morphogenesis)
    opts = options or EngineOptions()
    with bench_trainer(
        spec,
        Hooks(emit=packets.append, next_command=next_command),
        device=args.device,
        options=opts,
    ) as trainer:
        outcome = trainer.run()
    if outcome.state != "completed":
        raise RuntimeError(f"engine run ended {outcome.state}: {outcome.error}")
    samples = trainer.parts.task.train_x.shape[0]
    rates = [
        float(p["value"])
        for p in packets
        if p["kind"] == "metric" and p["name"] == "tolaria.samples_per_s"
    ]
    sample = Sample(_clean_intervals(stamps), [samples / r * 1000 for r in rates])
    sample.extra = {"packets": packets, "outcome": outcome}
    return sample, trainer


def plain_run(args: argparse.Namespace) -> Sample:
    """The same model, data, optimizer and batches in a plain PyTorch loop."""
    device = torch.device(args.device)
    task = sides.plain_model(args, device)
    model, x_all, y_all = task.host, task.train_x, task.train_y
    if args.compile:
        compile_host(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    gen = torch.Generator().manual_seed(0)
    stamps: list[tuple[float, bool]] = []
    sample = Sample()
    for _ in range(args.epochs):
        started = now()
        order = torch.randperm(x_all.shape[0], generator=gen).to(device)
        for index in order.split(args.batch_size):
            stamps.append((now(), False))
            optimizer.zero_grad(set_to_none=True)
            loss = task.loss_fn(model(x_all[index]), y_all[index])
            loss.backward()
            optimizer.step()
            if device.type == "cpu":
                loss.item()  # the engine reads its loss too
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        stamps.append((now(), True))
        sample.epoch_ms.append((now() - started) * 1000)
        sides.plain_validate(args, task)
    sample.step_ms = _clean_intervals(stamps)
    return sample


def steady_train(args: argparse.Namespace) -> dict[str, Any]:
    """Engine and plain loop, `--repeats` times each, interleaved."""
    engine, plain = Sample(), Sample()
    for repeat in range(args.repeats):
        order = ("engine", "plain") if repeat % 2 == 0 else ("plain", "engine")
        for side in order:
            got = engine_run(args)[0] if side == "engine" else plain_run(args)
            into = engine if side == "engine" else plain
            into.step_ms += got.step_ms
            into.epoch_ms += got.epoch_ms
    return {"engine": engine, "plain": plain}


def _policy_run(args: argparse.Namespace, every: int) -> Sample:
    morph = {
        "enabled": True,
        "policy": SLOW_POLICY,
        "policy_options": {"every": every, "deadline_ms": args.deadline_ms},
        "decision_deadline_ms": args.deadline_ms,
    }
    opts = EngineOptions(policy_every=args.policy_every)
    sample, trainer = engine_run(args, morphogenesis=morph, options=opts)
    tamiyo = trainer.parts.tamiyo
    assert tamiyo is not None
    policy = tamiyo.runner.policy
    packets: list[Packet] = sample.extra.pop("packets")
    outcome = sample.extra.pop("outcome")
    sample.extra = {
        "decisions_asked": policy.calls,
        "slow_calls": policy.slow_calls,
        "timeouts": trainer.tm.counters.get("tolaria.timeout.tamiyo_total", 0),
        "timeout_events": sum(p["name"] == "tolaria.tamiyo_timeout" for p in packets),
        "runner_timeouts": outcome.result.get("tamiyo_timeouts", 0),
        "decisions_acted": tamiyo.decisions,
        "conservative_entered": sum(
            p["name"] == "tamiyo.conservative_entered" for p in packets
        ),
    }
    return sample


def tamiyo_timeout(args: argparse.Namespace) -> dict[str, Any]:
    """The slow policy (every `--timeout-every`-th decision overruns) and the
    same policy never overrunning (the same-run baseline of step time),
    `--repeats` runs each, interleaved; counts summed over the runs."""
    out = {"slow": Sample(), "never_slow": Sample()}
    for repeat in range(args.repeats):
        order = ("slow", "never_slow") if repeat % 2 == 0 else ("never_slow", "slow")
        for label in order:
            got = _policy_run(args, args.timeout_every if label == "slow" else 0)
            into = out[label]
            into.step_ms += got.step_ms
            into.epoch_ms += got.epoch_ms
            for key, value in got.extra.items():
                into.extra[key] = into.extra.get(key, 0) + value
    return out


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")
