"""What a run is built from, once, when it starts: the task and its host model,
the seed slots and their manager, the policy, the optimizer, the data order.

`build_parts` runs them in a fixed order after seeding the RNGs, so the same
spec builds the same model on every rank and on every resume.
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from api_schemas.enums import GradientAggregation
from api_schemas.runs import RunCreate
from workers.engine.batches import DataOrder
from workers.engine.blueprints import BlueprintCache
from workers.engine.forward import Forward
from workers.engine.options import EngineOptions
from workers.engine.policy.tamiyo import Tamiyo
from workers.engine.runtime import (
    bf16_ok,
    compile_host,
    compile_requested,
    resolve_device,
)
from workers.engine.seeds.gates import GateConfig
from workers.engine.seeds.gradient_aggregation import PCGradAggregator
from workers.engine.seeds.manager import SeedManager
from workers.engine.seeds.ownership import HOST
from workers.engine.seeds.slot import find_slots
from workers.engine.strategy import Strategy
from workers.engine.tasks import Task, load_task
from workers.engine.telemetry import Telemetry


@dataclass
class Parts:
    """A run's built pieces. The optimizer is replaced (never mutated in
    place by others) through `use_optimizer`, so the seeds follow it."""

    device: torch.device
    task: Task
    fw: Forward
    data: DataOrder
    seeds: SeedManager
    cache: BlueprintCache
    tamiyo: Tamiyo | None
    optimizer: torch.optim.Optimizer
    compiled: bool
    deferred_reads: bool  # figures read back in batches (CUDA)
    sync_every: int  # steps between those read-backs (1 when not deferred)

    @property
    def model(self) -> nn.Module:
        return self.fw.model

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def use_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.seeds.optimizer = optimizer

    def params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def report(self) -> dict[str, Any]:
        """The run result's figures of the model, its seeds and the policy."""
        seeds, tamiyo = self.seeds, self.tamiyo
        return {
            "params": self.params(),
            "seeds": dict(seeds.counts),
            "seed_stages": seeds.stage_counts(),
            "isolation_violations": seeds.monitor.violations,
            "tamiyo_timeouts": tamiyo.runner.timeouts if tamiyo else 0,
        }


def build_parts(
    spec: RunCreate,
    opt: EngineOptions,
    *,
    device_name: str,
    telemetry: Telemetry,
    strategy: Strategy,
    report_path: Path,
    on_seed_change: Callable[[SeedManager], None],
) -> Parts:
    device = resolve_device(device_name)
    torch.manual_seed(spec.seed)
    random.seed(spec.seed)
    task = load_task(spec.task, spec.model, spec.seed, device)
    model = task.host
    model.train()
    cuda = device.type == "cuda"
    autocast = cuda and opt.mixed_precision and bf16_ok(device)
    fw = Forward(model, task.loss_fn, device, autocast, spec.micro_batches)
    compiled = compile_requested(spec.model.options)
    if compiled:
        compile_host(model, opt.compile_backend)
    cache = BlueprintCache(build_delay_s=opt.build_delay_s, base_seed=spec.seed)
    seeds = build_seeds(spec, model, cache, device, telemetry, strategy)
    fw.aggregator = build_aggregator(spec, opt, model, seeds, telemetry, strategy)
    deferred = cuda if opt.deferred_reads is None else opt.deferred_reads
    seeds.defer_reads = deferred  # G1 judged one check late, with no sync
    seeds.on_change = lambda: on_seed_change(seeds)
    on_seed_change(seeds)
    tamiyo = build_policy(
        spec,
        opt,
        seeds,
        telemetry,
        strategy,
        report_path,
        total_steps=planned_steps(spec, task.train_x.shape[0]),
    )
    sync_every = opt.sync_every_cuda if deferred else 1
    if tamiyo is not None:  # the policy decides on a current loss EWMA
        sync_every = min(sync_every, tamiyo.every)
    optimizer = new_optimizer(model, seeds, spec.learning_rate)
    seeds.optimizer = optimizer
    data = DataOrder(task, spec.batch_size, spec.seed, device)
    return Parts(
        device,
        task,
        fw,
        data,
        seeds,
        cache,
        tamiyo,
        optimizer,
        compiled,
        deferred,
        sync_every,
    )


def build_seeds(
    spec: RunCreate,
    model: nn.Module,
    cache: BlueprintCache,
    device: torch.device,
    telemetry: Telemetry,
    strategy: Strategy,
) -> SeedManager:
    morph = spec.morphogenesis
    return SeedManager(
        find_slots(model),
        config=GateConfig.from_overrides(morph.gates),
        cache=cache,
        device=str(device),
        telemetry=telemetry,
        blend_mode=morph.blend_mode,
        blend_steps=morph.blend_steps,
        host_params=sum(p.numel() for p in model.parameters()),
        allowed=morph.blueprints,
        collective=strategy.collective,
    )


def build_aggregator(
    spec: RunCreate,
    opt: EngineOptions,
    model: nn.Module,
    seeds: SeedManager,
    telemetry: Telemetry,
    strategy: Strategy,
) -> PCGradAggregator | None:
    """`pcgrad`: the seeds' gradient parts projected (None: plain backward)."""
    if spec.morphogenesis.gradient_aggregation is not GradientAggregation.pcgrad:
        return None
    if strategy.collective.world > 1:  # the spec refuses it; a direct caller too
        raise ValueError("gradient_aggregation pcgrad runs on one device")
    return PCGradAggregator(
        model,
        list(seeds.slots.values()),
        telemetry,
        every=opt.grad_norm_every,
        seed=spec.seed,
    )


def planned_steps(spec: RunCreate, samples: int) -> int:
    """The optimizer steps the spec plans (the last batch of an epoch may be
    short, and counts): what the policy measures "early" and "late" against."""
    steps = spec.epochs * math.ceil(samples / spec.batch_size)
    return min(steps, spec.max_steps) if spec.max_steps is not None else steps


def build_policy(
    spec: RunCreate,
    opt: EngineOptions,
    seeds: SeedManager,
    telemetry: Telemetry,
    strategy: Strategy,
    report_path: Path,
    total_steps: int | None = None,
) -> Tamiyo | None:
    """Tamiyo where this process decides; its blueprints' builds started."""
    morph = spec.morphogenesis
    if not morph.enabled or morph.max_seeds <= 0:
        return None
    if not strategy.decides:
        # Same prefetch as the deciding rank's Tamiyo, so a shared germination
        # finds its module ready here too.
        seeds.prefetch(morph.blueprints or [])
        return None
    tamiyo = Tamiyo(
        morph,
        seeds,
        telemetry,
        report_path,
        every=opt.policy_every,
        defer=strategy.defer,
        total_steps=total_steps,
    )
    tamiyo.prefetch()
    return tamiyo


def new_optimizer(
    model: nn.Module, seeds: SeedManager, learning_rate: float
) -> torch.optim.Optimizer:
    """Adam with one parameter group for the host and one per seed (its owner
    named), so a seed can leave the optimizer without touching the host's."""
    seed_groups = seeds.seed_groups()
    seed_ids = {id(p) for _, params in seed_groups for p in params}
    host = [p for p in model.parameters() if p.requires_grad and id(p) not in seed_ids]
    groups: list[dict[str, Any]] = [{"params": host, "owner": HOST}]
    groups += [{"params": params, "owner": owner} for owner, params in seed_groups]
    return torch.optim.Adam(groups, lr=learning_rate)
