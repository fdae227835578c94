"""Gates G0-G5: each decides one lifecycle step from measured signals.

Thresholds live in `GateConfig` (defaults documented in docs/engine.md) and are
overridden per run by `spec.morphogenesis.gates` (keys are the field names). A
gate returns a `GateResult`; the seed manager culls on failure.
"""

import math
from dataclasses import dataclass, field, fields
from statistics import fmean, stdev


@dataclass
class GateConfig:
    """Every gate threshold, with its default."""

    max_param_ratio: float = 2.0  # G0: seed params <= ratio * host params
    g1_check_every: int = 5  # G1: steps between gradient checks
    min_training_steps: int = 30  # G2: least steps in TRAINING
    g2_window: int = 8  # G2: paired probe/host samples compared
    g2_confidence: float = 2.0  # G2: standard errors a decision needs
    g2_tolerance: float = 0.02  # G2: pass if surely not worse than this (relative)
    g2_max_harm: float = 0.10  # G2: cull if surely worse than this (relative)
    g2_loss_floor: float = 0.01  # G2: the scale of "relative" near a zero loss
    probe_every: int = 5  # steps between G2 probe forwards
    max_training_steps: int = 400  # G2: cull if not ready by then
    g3_max_spike: float = 0.5  # G3: loss may rise <= 50% over the blend baseline
    g4_min_gain: float = 0.0  # G4: (val loss without - with) / without >= this
    g4_max_step_overhead: float = 1.0  # G4: step time may grow <= 100%
    embargo_steps: int = 30  # slot embargo after a cull
    isolation_every: int = 25  # isolation monitor sampling period (steps)
    # How far (relative RMS) a seed in TRAINING may move the activation: it
    # learns a proximal step of this size (seeds/isolation.py).
    isolation_step: float = 0.1

    @classmethod
    def from_overrides(cls, overrides: dict[str, float]) -> "GateConfig":
        """Apply `spec.morphogenesis.gates`; an unknown key is an error."""
        config = cls()
        known = {f.name: f.type for f in fields(cls)}
        for key, value in overrides.items():
            if key not in known:
                raise ValueError(
                    f"unknown gate threshold {key!r}; known: {sorted(known)}"
                )
            is_int = known[key] in (int, "int")
            setattr(config, key, int(value) if is_int else float(value))
        return config


@dataclass
class GateResult:
    gate: str
    passed: bool
    reason: str
    figures: dict[str, float] = field(default_factory=dict)
    retry: bool = False  # not yet passed, but may pass later: do not cull yet


def g0_sanity(
    *,
    known: bool,
    allowed: bool,
    params: int,
    bounds: tuple[int, int],
    host_params: int,
    slot_free: bool,
    embargoed: bool,
    dry_run_ok: bool,
    config: GateConfig,
) -> GateResult:
    """G0: may this seed germinate here at all?"""
    checks = [
        (known, "blueprint unknown"),
        (allowed, "blueprint not allowed (quarantined or not in the allow list)"),
        (bounds[0] <= params <= bounds[1], f"params {params} outside {bounds}"),
        (
            params <= config.max_param_ratio * host_params,
            f"params {params} > {config.max_param_ratio} x host {host_params}",
        ),
        (slot_free, "slot busy"),
        (not embargoed, "slot embargoed"),
        (dry_run_ok, "dry-run forward failed"),
    ]
    for ok, why in checks:
        if not ok:
            return GateResult("G0", False, why, {"params": params})
    return GateResult("G0", True, "sane", {"params": params})


def g1_gradient_health(*, grad_norm: float, violations: int) -> GateResult:
    """G1: the seed learns (finite, non-zero gradient) and isolation holds."""
    figures = {"grad_norm": grad_norm, "violations": violations}
    if not math.isfinite(grad_norm):
        return GateResult("G1", False, "seed gradient not finite", figures)
    if grad_norm == 0.0:
        return GateResult("G1", False, "seed gradient is zero", figures)
    if violations:
        return GateResult("G1", False, "isolation violated", figures)
    return GateResult("G1", True, "gradients healthy", figures)


def g2_stability(
    *,
    probe_losses: list[float],
    host_losses: list[float],
    steps_in_stage: int,
    config: GateConfig,
) -> GateResult:
    """G2: with the seed fully active, is the loss surely no worse?

    Each probe loss and host loss come from the same batch, so their difference
    is a paired sample of what the seed changes (positive: the seed helps). The
    gate compares the mean difference, with `g2_confidence` standard errors of
    margin, against fractions of the host's loss, floored at `g2_loss_floor`
    so that a host near zero loss makes no ratio explode. Surely harmful: cull.
    Surely within tolerance: pass (G4 then asks for a validation gain). Neither:
    wait for more samples, until `max_training_steps` (stages.py culls then).
    """
    n = min(len(probe_losses), len(host_losses), config.g2_window)
    if steps_in_stage < config.min_training_steps or n < config.g2_window:
        return GateResult("G2", False, "waiting for the window", {}, retry=True)
    probe, host = probe_losses[-n:], host_losses[-n:]
    if not all(math.isfinite(v) for v in (*probe, *host)):
        return GateResult("G2", False, "probe loss not finite", {})
    gains = [h - p for h, p in zip(host, probe, strict=True)]
    gain = fmean(gains)
    stderr = stdev(gains) / math.sqrt(n)
    scale = max(fmean(host), config.g2_loss_floor)
    margin = config.g2_confidence * stderr
    figures = {
        "gain": gain,
        "stderr": stderr,
        "relative_gain": gain / scale,
        "host_loss": fmean(host),
        "probe_loss": fmean(probe),
    }
    if gain + margin < -config.g2_max_harm * scale:
        return GateResult(
            "G2", False, f"seed hurts: loss +{-gain / scale:.1%} with it", figures
        )
    if gain - margin > -config.g2_tolerance * scale:
        return GateResult("G2", True, f"loss {gain / scale:+.1%} better", figures)
    return GateResult("G2", False, "not yet clear", figures, retry=True)


def g3_interface(
    *,
    alpha: float,
    blend_losses: list[float],
    baseline: float,
    outputs_finite: bool,
    config: GateConfig,
) -> GateResult:
    """G3: the blend finished (alpha == 1) without a loss spike.

    Batch losses are noisy, so the spike is read from a moving average of five.
    """
    smooth = [
        fmean(blend_losses[i : i + 5]) for i in range(max(1, len(blend_losses) - 4))
    ]
    worst = max(smooth) if blend_losses else baseline
    spike = (worst - baseline) / max(abs(baseline), 1e-12)
    figures = {"alpha": alpha, "spike": spike}
    if not outputs_finite or not math.isfinite(worst):
        return GateResult("G3", False, "non-finite output while blending", figures)
    if spike > config.g3_max_spike:
        return GateResult(
            "G3", False, f"loss spiked {spike:.0%} while blending", figures
        )
    if alpha < 1.0:
        return GateResult("G3", False, "blend not finished", figures)
    return GateResult("G3", True, "blended cleanly", figures)


def g4_system_impact(
    *,
    val_loss_with: float,
    val_loss_without: float,
    step_ms_now: float,
    step_ms_before: float,
    config: GateConfig,
) -> GateResult:
    """G4: counterfactual validation gain and step-time cost within budget."""
    gain = (val_loss_without - val_loss_with) / max(abs(val_loss_without), 1e-12)
    overhead = step_ms_now / max(step_ms_before, 1e-9) - 1.0
    figures = {
        "gain": gain,
        "overhead": overhead,
        "val_loss_with": val_loss_with,
        "val_loss_without": val_loss_without,
    }
    if not math.isfinite(val_loss_with):
        return GateResult("G4", False, "validation loss not finite", figures)
    if gain < config.g4_min_gain:
        return GateResult("G4", False, f"no validation gain ({gain:+.3%})", figures)
    if overhead > config.g4_max_step_overhead:
        return GateResult(
            "G4", False, f"step time +{overhead:.0%} over budget", figures
        )
    return GateResult("G4", True, f"validation gain {gain:+.2%}", figures)


def g5_reset(
    *, module_detached: bool, optimizer_clear: bool, state_clear: bool
) -> GateResult:
    """G5: nothing of the old seed is left before the slot becomes DORMANT."""
    if not module_detached:
        return GateResult("G5", False, "module still attached")
    if not optimizer_clear:
        return GateResult("G5", False, "parameters still in the optimizer")
    if not state_clear:
        return GateResult("G5", False, "optimizer state not released")
    return GateResult("G5", True, "slot clean")
