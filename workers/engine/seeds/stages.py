"""Kasmina's stage driver: what happens to the seeds at each step (G1 checks,
probes, the stage handlers) and at each epoch end (validation gates,
fossilising). The seed manager owns one and calls it at the trainer's hooks."""

import math
from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor, nn

from api_schemas.enums import SeedStage
from workers.engine.collective import Collective
from workers.engine.readback import Readback
from workers.engine.seeds import gates
from workers.engine.seeds.agreement import LossFn, agree_sample, global_mean
from workers.engine.seeds.blending import alpha_ramp
from workers.engine.seeds.gates import GateConfig, GateResult
from workers.engine.seeds.isolation import IsolationMonitor, IsolationSample
from workers.engine.seeds.ownership import SeedGroups
from workers.engine.seeds.registry import SeedRegistry
from workers.engine.seeds.slot import SeedSlot
from workers.engine.seeds.transitions import Transitions
from workers.engine.telemetry import Telemetry

S = SeedStage
Loss = float | Tensor | None
StepHandler = Callable[[SeedSlot, int, Loss, float], None]


class StageDriver:
    """Advances the registry's seeds through G1-G5 on the trainer's hooks."""

    def __init__(
        self,
        registry: SeedRegistry,
        moves: Transitions,
        *,
        config: GateConfig,
        monitor: IsolationMonitor,
        groups: SeedGroups,
        telemetry: Telemetry,
        collective: Collective,
        device: str,
        blend_steps: int,
    ) -> None:
        self.registry = registry
        self.moves = moves
        self.config = config
        self.monitor = monitor
        self.groups = groups
        self.tm = telemetry
        self.collective = collective
        self.device = device
        self.blend_steps = blend_steps
        # CUDA: G1's figures are read back at the next check, with no sync.
        self.defer_reads = device.startswith("cuda")
        self._step_handlers: dict[SeedStage, StepHandler] = {
            S.GERMINATED: self._on_germinated,
            S.TRAINING: self._on_training,
            S.BLENDING: self._on_blending,
            S.EMBARGOED: self._on_embargoed,
        }

    def _fail(self, slot: SeedSlot, result: GateResult) -> None:
        self.moves.gate_failure(slot, result)
        self.moves.cull(slot, f"{result.gate} failed: {result.reason}")

    # ---- G1: gradient health and isolation -----------------------------------------

    def before_forward(self, step: int) -> None:
        active = self.registry.active
        if not active or not self.monitor.should_sample(step):
            return
        for slot in active:
            slot.sample_next = slot.stage is S.TRAINING

    def after_backward(self, step: int) -> None:
        """G1 on sampled steps: seed gradients healthy and isolation held."""
        if not self.registry.active:
            return
        for slot in list(self.registry.active):
            if slot.stage is S.TRAINING and step % self.config.g1_check_every == 0:
                self._check_g1(slot)
            elif slot.g1_pending is not None and slot.stage is not S.TRAINING:
                self._judge_g1(slot, *slot.g1_pending)  # its last one, as it left

    def _check_g1(self, slot: SeedSlot) -> None:
        """Read the slot's gradient norm and isolation sample. Deferred (CUDA),
        they are judged at the next check, copied back meanwhile with no sync;
        otherwise at once. Over several ranks every rank judges the worst
        sample of any (a collective: each rank calls it at every check)."""
        if self.collective.world > 1:
            worst = agree_sample(slot.last_sample, self.collective, self.device)
            slot.last_sample = worst
        if slot.g1_pending is not None and not self._judge_g1(slot, *slot.g1_pending):
            return  # culled by the previous check
        grads = [p.grad for p in slot.seed_parameters() if p.grad is not None]
        sample, slot.last_sample = slot.last_sample, None
        figures: list[Tensor | float] = [
            torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            if grads
            else 0.0
        ]
        if sample is not None:
            figures.append(sample.max_abs_diff)
        reading = Readback(figures)
        if self.defer_reads:
            slot.g1_pending = (reading, sample)
        else:
            self._judge_g1(slot, reading, sample)

    def _judge_g1(
        self, slot: SeedSlot, reading: Readback, sample: IsolationSample | None
    ) -> bool:
        """G1 on read-back figures; False when it culled the seed."""
        slot.g1_pending = None
        norm, *diff = reading.values()
        violations = 0
        if sample is not None:
            sample.max_abs_diff = diff[0]
            violations = int(self.monitor.record(sample))
            if violations:
                self.tm.count("kasmina.isolation.violations")
                # Critical: a seed's gradient reached the host (R3's lane).
                self.tm.event(
                    "kasmina.isolation.violation",
                    "critical",
                    {**self.moves.attrs(slot), "max_abs_diff": float(diff[0])},
                )
        result = gates.g1_gradient_health(grad_norm=norm, violations=violations)
        if not result.passed:
            self._fail(slot, result)
        return result.passed

    # ---- G2's probe ---------------------------------------------------------------

    def wants_probe(self, step: int) -> bool:
        return (
            bool(self.registry.active)
            and step % self.config.probe_every == 0
            and any(s.stage is S.TRAINING for s in self.registry.active)
        )

    @torch.no_grad()
    def probe(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        loss_fn: LossFn,
        host_loss: float | Tensor,
    ) -> None:
        """G2's signal: the batch loss with each TRAINING seed fully active.
        On CUDA the losses stay device tensors until G2 reads them. Over
        several ranks each probes its shard of the global batch and all get
        the global batch's mean loss."""
        if self.collective.world > 1:
            loss_fn = global_mean(loss_fn, self.collective, x.shape[0])
            x, y = self.collective.shard(x), self.collective.shard(y)
        for slot in self.registry.active:
            if slot.stage is not S.TRAINING:
                continue
            slot.force_full = True
            try:
                loss = loss_fn(model(x), y).float()
                cpu = loss.device.type == "cpu"
                probe_loss: float | Tensor = float(loss) if cpu else loss
            finally:
                slot.force_full = False
            signals = self.registry.signals[slot.name]
            signals.probe.append(probe_loss)
            signals.host.append(host_loss)

    # ---- per-step stage handlers ----------------------------------------------------

    def after_step(self, step: int, loss: Loss, step_ms: float) -> None:
        """Advance stages that move on optimizer steps (not on validation)."""
        if not self.registry.active:
            return
        for slot in list(self.registry.active):
            handler = self._step_handlers.get(slot.stage)
            if handler is not None:
                handler(slot, step, loss, step_ms)

    def _on_germinated(self, slot: SeedSlot, step: int, loss: Loss, ms: float) -> None:
        self.registry.signals[slot.name].step_ms = ms
        self.moves.move(slot, S.TRAINING, "training in isolation")

    def _on_training(self, slot: SeedSlot, step: int, loss: Loss, ms: float) -> None:
        assert slot.info is not None
        signals = self.registry.signals[slot.name]
        in_stage = step - slot.info.stage_step
        if in_stage % self.config.probe_every != 0:
            return
        probe, host = signals.g2_losses(self.defer_reads)
        result = gates.g2_stability(
            probe_losses=probe,
            host_losses=host,
            steps_in_stage=in_stage,
            config=self.config,
        )
        if result.passed:
            window = host[-self.config.g2_window :]
            signals.baseline = (
                sum(window) / len(window)
                if window
                else (0.0 if loss is None else float(loss))
            )
            slot.info.blend_step = 0
            reason = f"G2 passed: {result.reason}"
            self.moves.move(slot, S.BLENDING, reason, figures=result.figures, gate="G2")
        elif not result.retry or in_stage >= self.config.max_training_steps:
            self._fail(slot, result)

    def _on_blending(self, slot: SeedSlot, step: int, loss: Loss, ms: float) -> None:
        assert slot.info is not None
        slot.info.blend_step += 1
        slot.alpha = alpha_ramp(slot.info.blend_step, self.blend_steps)
        signals = self.registry.signals[slot.name]
        if loss is not None:
            signals.blend.append(loss)
        if slot.alpha < 1.0:
            return
        signals.resolve("blend")
        final = signals.blend[-1] if isinstance(loss, Tensor) else loss
        assert not isinstance(final, Tensor)  # resolved just above
        result = gates.g3_interface(
            alpha=slot.alpha,
            blend_losses=cast(list[float], signals.blend[-self.blend_steps :]),
            baseline=float(signals.baseline or final or 0.0),
            outputs_finite=final is None or math.isfinite(final),
            config=self.config,
        )
        if result.passed:
            reason = f"G3 passed: {result.reason}"
            self.moves.move(
                slot, S.SHADOWING, reason, figures=result.figures, gate="G3"
            )
        else:
            self._fail(slot, result)

    def _on_embargoed(self, slot: SeedSlot, step: int, loss: Loss, ms: float) -> None:
        if step < slot.embargo_until:
            return
        self.moves.move(slot, S.RESETTING, "embargo over")
        result = gates.g5_reset(
            module_detached=slot.seed is None,
            optimizer_clear=self.groups.clear_of(
                slot.info.seed_id if slot.info else None
            ),
            state_clear=True,
        )
        if result.passed:
            reason = f"G5 passed: {result.reason}"
            self.moves.move(slot, S.DORMANT, reason, figures=result.figures, gate="G5")
        else:
            self.moves.gate_failure(slot, result)

    # ---- per-epoch: G4 and fossilising --------------------------------------------

    def on_epoch_end(
        self, val_loss: float, evaluate: Callable[[], float], step_ms: float
    ) -> None:
        """G4 for SHADOWING and PROBATIONARY seeds: counterfactual validation."""
        for slot in list(self.registry.active):
            if slot.stage not in (S.SHADOWING, S.PROBATIONARY):
                continue
            slot.bypass = True
            try:
                without = evaluate()
            finally:
                slot.bypass = False
            result = gates.g4_system_impact(
                val_loss_with=val_loss,
                val_loss_without=without,
                step_ms_now=step_ms,
                step_ms_before=self.registry.signals[slot.name].step_ms or step_ms,
                config=self.config,
            )
            if not result.passed:
                self._fail(slot, result)
            elif slot.stage is S.SHADOWING:
                reason = f"G4 passed: {result.reason}"
                self.moves.move(
                    slot, S.PROBATIONARY, reason, figures=result.figures, gate="G4"
                )
            else:
                self._fossilize(slot, result)

    def _fossilize(self, slot: SeedSlot, result: GateResult) -> None:
        assert slot.info is not None
        slot.alpha = 1.0
        reason = f"G4 passed: {result.reason}"
        self.moves.move(slot, S.FOSSILIZED, reason, figures=result.figures, gate="G4")
        self.groups.fossilize(slot.info.seed_id)
        self.registry.counts["fossilized"] += 1
        self.registry.record_outcome(slot, "fossilized")
