"""Trainer setup: task, model, seeds, optimizer and policy, built when a run starts."""

import random
from typing import Any

import torch

from workers.engine import checkpoints as ckpt
from workers.engine.blueprints import BlueprintCache
from workers.engine.emergency import EmergencyLadder
from workers.engine.policy.tamiyo import Tamiyo
from workers.engine.rollback import FastRollbackCache
from workers.engine.runtime import (
    _bf16_ok,
    _resolve_device,
    compile_host,
    compile_requested,
)
from workers.engine.seeds.gates import GateConfig
from workers.engine.seeds.ownership import HOST
from workers.engine.seeds.slot import find_slots
from workers.engine.tasks import Task, load_task


class Setup:
    """Setup methods of Trainer (see trainer.py for the state)."""

    # ---- setup --------------------------------------------------------------------

    def _setup(self) -> None:
        self.device = _resolve_device(self.device_name)
        spec = self.spec
        torch.manual_seed(spec.seed)
        random.seed(spec.seed)
        self.task: Task = load_task(spec.task, spec.model, spec.seed, self.device)
        self.model = self.task.host
        self.model.train()
        self.loss_fn = self.task.loss_fn
        self.cuda = self.device.type == "cuda"
        self.sync_every = self.opt.sync_every_cuda if self.cuda else 1
        self.autocast = self.cuda and self.opt.mixed_precision and _bf16_ok(self.device)
        self.compiled = compile_requested(spec.model.options)
        if self.compiled:
            compile_host(self.model, self.opt.compile_backend)
        self._setup_seeds()
        if self.tamiyo is not None:  # the policy decides on a current loss EWMA
            self.sync_every = min(self.sync_every, self.tamiyo.every)
        self.optimizer = self._new_optimizer()
        assert self.seeds is not None
        self.seeds.optimizer = self.optimizer
        self.ladder = EmergencyLadder()
        self.snapshots = FastRollbackCache(
            self.opt.rollback_cache_mb, self.opt.rollback_cache_snapshots
        )
        self.data_gen = torch.Generator().manual_seed(spec.seed)
        self.epoch_gen_state = self.data_gen.get_state()
        if self.resume_from:
            self._restore(ckpt.load_checkpoint(self.resume_from, self.device), True)
            self.tm.event("tolaria.resumed", "info", {"from": self.resume_from})
        self._snapshot(good=True)

    def _setup_seeds(self) -> None:
        morph = self.spec.morphogenesis
        host_params = sum(p.numel() for p in self.model.parameters())
        self.cache = BlueprintCache(
            build_delay_s=self.opt.build_delay_s, base_seed=self.spec.seed
        )
        self.seeds = self.seed_manager_cls(
            find_slots(self.model),
            config=GateConfig.from_overrides(morph.gates),
            cache=self.cache,
            device=str(self.device),
            telemetry=self.tm,
            blend_mode=morph.blend_mode,
            blend_steps=morph.blend_steps,
            host_params=host_params,
            allowed=morph.blueprints,
        )
        self.seeds.on_change = self._refresh_seed_view
        self._refresh_seed_view()
        if morph.enabled and morph.max_seeds > 0:
            self.tamiyo = self._make_tamiyo()
            if self.tamiyo is not None:
                self.tamiyo.prefetch()

    def _make_tamiyo(self) -> Tamiyo | None:
        # Distributed hook: rank 0 defers decisions for broadcast, others get none.
        return self._tamiyo_of(Tamiyo)

    def _tamiyo_of(self, cls: type[Tamiyo], **extra: Any) -> Tamiyo:
        """A `cls` policy over this run's seeds, telemetry and field reports."""
        assert self.seeds is not None
        return cls(
            self.spec.morphogenesis,
            self.seeds,
            self.tm,
            self.checkpoint_dir / "field_reports.jsonl",
            every=self.opt.policy_every,
            **extra,
        )

    def _new_optimizer(self) -> torch.optim.Optimizer:
        assert self.seeds is not None
        seed_groups = self.seeds.seed_groups()
        seed_ids = {id(p) for _, params in seed_groups for p in params}
        host = [
            p
            for p in self.model.parameters()
            if p.requires_grad and id(p) not in seed_ids
        ]
        groups: list[dict[str, Any]] = [{"params": host, "owner": HOST}]
        groups += [{"params": params, "owner": owner} for owner, params in seed_groups]
        optimizer = torch.optim.Adam(groups, lr=self.spec.learning_rate)
        return optimizer

    def _refresh_seed_view(self) -> None:
        assert self.seeds is not None
        self._seed_view = self.seeds.views()
        self._seed_counts = self.seeds.stage_counts()
