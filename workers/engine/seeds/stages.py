"""Kasmina's stage driver: what the seed manager does at each step (G1 checks,
probes, stage handlers) and at each epoch end (validation gates, fossilising),
as a part of SeedManager (see manager.py for the state)."""

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from api_schemas.enums import SeedStage
from workers.engine.readback import Readback
from workers.engine.seeds import gates
from workers.engine.seeds.blending import alpha_ramp
from workers.engine.seeds.gates import GateResult
from workers.engine.seeds.isolation import IsolationSample
from workers.engine.seeds.slot import SeedSlot

S = SeedStage


class StageDriver:
    """Per-step and per-epoch methods of SeedManager."""

    # ---- per-step hooks ---------------------------------------------------------

    def before_forward(self, step: int) -> None:
        if not self.active or not self.monitor.should_sample(step):
            return
        for slot in self.active:
            slot.sample_next = slot.stage is S.TRAINING

    def after_backward(self, step: int) -> None:
        """G1 on sampled steps: seed gradients healthy and isolation held."""
        if not self.active:
            return
        for slot in list(self.active):
            if slot.stage is S.TRAINING and step % self.config.g1_check_every == 0:
                self._check_g1(slot)
            elif slot.g1_pending is not None and slot.stage is not S.TRAINING:
                self._judge_g1(slot, *slot.g1_pending)  # its last one, as it left

    def _check_g1(self, slot: SeedSlot) -> None:
        """Read the slot's gradient norm and isolation sample. Deferred (CUDA),
        they are judged at the next check, copied back meanwhile with no sync;
        otherwise at once."""
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
        result = gates.g1_gradient_health(grad_norm=norm, violations=violations)
        if not result.passed:
            self._gate_failure(slot, result)
            self.cull(slot, f"G1 failed: {result.reason}")
        return result.passed

    def wants_probe(self, step: int) -> bool:
        return (
            bool(self.active)
            and step % self.config.probe_every == 0
            and any(s.stage is S.TRAINING for s in self.active)
        )

    @torch.no_grad()
    def probe(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        host_loss: float | Tensor,
    ) -> None:
        """G2's signal: the batch loss with each TRAINING seed fully active.
        On CUDA the losses stay device tensors until G2 reads them."""
        for slot in self.active:
            if slot.stage is not S.TRAINING:
                continue
            slot.force_full = True
            try:
                probe_loss: float | Tensor = loss_fn(model(x), y).float()
                if probe_loss.device.type == "cpu":
                    probe_loss = float(probe_loss)
            finally:
                slot.force_full = False
            signals = self._signals[slot.name]
            signals["probe"].append(probe_loss)
            signals["host"].append(host_loss)

    def after_step(
        self, step: int, loss: float | Tensor | None, step_ms: float
    ) -> None:
        """Advance stages that move on optimizer steps (not on validation)."""
        if not self.active:
            return
        for slot in list(self.active):
            handler = self._STEP_HANDLERS.get(slot.stage)
            if handler is not None:
                handler(self, slot, step, loss, step_ms)

    def _on_germinated(
        self, slot: SeedSlot, step: int, loss: Any, step_ms: float
    ) -> None:
        self._signals[slot.name]["step_ms"] = step_ms
        self._transition(slot, S.TRAINING, "training in isolation")

    def _on_training(
        self, slot: SeedSlot, step: int, loss: Any, step_ms: float
    ) -> None:
        assert slot.info is not None
        signals = self._signals[slot.name]
        in_stage = step - slot.info.stage_step
        if in_stage % self.config.probe_every != 0:
            return
        probe, host = self._g2_signals(slot.name, signals)
        result = gates.g2_stability(
            probe_losses=probe,
            host_losses=host,
            steps_in_stage=in_stage,
            config=self.config,
        )
        if result.passed:
            window = host[-self.config.g2_window :]
            signals["baseline"] = (
                sum(window) / len(window)
                if window
                else (0.0 if loss is None else float(loss))
            )
            slot.info.blend_step = 0
            self._transition(
                slot, S.BLENDING, f"G2 passed: {result.reason}", figures=result.figures
            )
        elif not result.retry or in_stage >= self.config.max_training_steps:
            self._gate_failure(slot, result)
            self.cull(slot, f"G2 failed: {result.reason}")

    def _g2_signals(
        self, name: str, signals: dict[str, Any]
    ) -> tuple[list[float], list[float]]:
        """G2's probe and host losses as floats. Deferred (CUDA): those queued
        before the previous decision, copied back since then without a sync;
        the newer ones start their copy now and count at the next decision."""
        if not self.defer_reads:
            resolve_signals(signals, "probe", "host")
            return signals["probe"], signals["host"]
        settle_signals(signals, self._readbacks.pop(name, None))
        self._readbacks[name] = start_readback(signals, "probe", "host")
        settled = [
            [v for v in signals[key] if not isinstance(v, Tensor)]
            for key in ("probe", "host")
        ]
        count = min(len(settled[0]), len(settled[1]))
        return settled[0][:count], settled[1][:count]

    def _on_blending(
        self, slot: SeedSlot, step: int, loss: Any, step_ms: float
    ) -> None:
        assert slot.info is not None
        slot.info.blend_step += 1
        slot.alpha = alpha_ramp(slot.info.blend_step, self.blend_steps)
        signals = self._signals[slot.name]
        if loss is not None:
            signals["blend"].append(loss)
        if slot.alpha < 1.0:
            return
        resolve_signals(signals, "blend")
        if isinstance(loss, Tensor):
            loss = signals["blend"][-1]
        result = gates.g3_interface(
            alpha=slot.alpha,
            blend_losses=signals["blend"][-self.blend_steps :],
            baseline=float(signals.get("baseline") or loss or 0.0),
            outputs_finite=loss is None or math.isfinite(loss),
            config=self.config,
        )
        if result.passed:
            self._transition(
                slot, S.SHADOWING, f"G3 passed: {result.reason}", figures=result.figures
            )
        else:
            self._gate_failure(slot, result)
            self.cull(slot, f"G3 failed: {result.reason}")

    def _on_embargoed(
        self, slot: SeedSlot, step: int, loss: Any, step_ms: float
    ) -> None:
        if step < slot.embargo_until:
            return
        self._transition(slot, S.RESETTING, "embargo over")
        result = gates.g5_reset(
            module_detached=slot.seed is None,
            optimizer_clear=self.optimizer is None
            or not any(
                g.get("owner") == (slot.info.seed_id if slot.info else None)
                for g in self.optimizer.param_groups
            ),
            state_clear=True,
        )
        if result.passed:
            self._transition(slot, S.DORMANT, f"G5 passed: {result.reason}")
        else:
            self._gate_failure(slot, result)

    _STEP_HANDLERS = {
        S.GERMINATED: _on_germinated,
        S.TRAINING: _on_training,
        S.BLENDING: _on_blending,
        S.EMBARGOED: _on_embargoed,
    }

    # ---- per-epoch hooks ---------------------------------------------------------

    def on_epoch_end(
        self, val_loss: float, evaluate: Callable[[], float], step_ms: float
    ) -> None:
        """G4 for SHADOWING and PROBATIONARY seeds: counterfactual validation."""
        for slot in list(self.active):
            if slot.stage not in (S.SHADOWING, S.PROBATIONARY):
                continue
            slot.bypass = True
            try:
                without = evaluate()
            finally:
                slot.bypass = False
            before = self._signals[slot.name].get("step_ms") or step_ms
            result = gates.g4_system_impact(
                val_loss_with=val_loss,
                val_loss_without=without,
                step_ms_now=step_ms,
                step_ms_before=before,
                config=self.config,
            )
            if not result.passed:
                self._gate_failure(slot, result)
                self.cull(slot, f"G4 failed: {result.reason}")
            elif slot.stage is S.SHADOWING:
                self._transition(
                    slot,
                    S.PROBATIONARY,
                    f"G4 passed: {result.reason}",
                    figures=result.figures,
                )
            else:
                self._fossilize(slot, result)

    def _fossilize(self, slot: SeedSlot, result: GateResult) -> None:
        assert slot.info is not None
        slot.alpha = 1.0
        self._transition(
            slot, S.FOSSILIZED, f"G4 passed: {result.reason}", figures=result.figures
        )
        if self.optimizer is not None:
            # From here the seed is an ordinary part of the model: its group keeps
            # training, renamed so no seed can be culled out of the host.
            for group in self.optimizer.param_groups:
                if group.get("owner") == slot.info.seed_id:
                    group["owner"] = f"fossil:{slot.info.seed_id}"
        self.counts["fossilized"] += 1


Spans = dict[str, list[int]]


def start_readback(
    signals: dict[str, Any], *keys: str
) -> tuple[Readback, Spans] | None:
    """Copy the device tensors queued in these signal lists back, no sync."""
    spans: Spans = {}
    tensors: list[Tensor | float] = []
    for key in keys:
        at = [i for i, v in enumerate(signals.get(key) or []) if isinstance(v, Tensor)]
        if at:
            spans[key] = at
            tensors += [signals[key][i] for i in at]
    return (Readback(tensors), spans) if tensors else None


def settle_signals(
    signals: dict[str, Any], pending: tuple[Readback, Spans] | None
) -> None:
    """Put a finished readback's floats in place of the tensors it copied."""
    if pending is None:
        return
    reading, spans = pending
    values = iter(reading.values())
    for key, at in spans.items():
        for i in at:
            signals[key][i] = next(values)


def resolve_signals(signals: dict[str, Any], *keys: str) -> None:
    """Turn the device tensors queued in these signal lists into floats now."""
    settle_signals(signals, start_readback(signals, *keys))
