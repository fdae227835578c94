"""Gates G0-G5: each decides one lifecycle step from measured signals.

Thresholds live in `GateConfig` (defaults documented in docs/engine.md) and are
overridden per run by `spec.morphogenesis.gates` (keys are the field names). A
gate returns a `GateResult`; the seed manager culls on failure.
"""

import math
from dataclasses import dataclass, field, fields
from statistics import fmean, pstdev


@dataclass
class GateConfig:
    """Every gate threshold, with its default."""

    max_param_ratio: float = 2.0  # G0: seed params <= ratio * host params
    g1_check_every: int = 5  # G1: steps between gradient checks
    min_training_steps: int = 30  # G2: least steps in TRAINING
    g2_window: int = 6  # G2: probe samples compared (first half vs second)
    g2_min_improvement: float = 0.0  # G2: relative drop of the seed's probe loss
    g2_max_cv: float = 0.5  # G2: coefficient of variation bound of the probe
    g2_max_loss_ratio: float = 1.5  # G2: probe loss <= ratio * host loss
    probe_every: int = 5  # steps between G2 probe forwards
    max_training_steps: int = 400  # G2: cull if not ready by then
    g3_max_spike: float = 0.5  # G3: loss may rise <= 50% over the blend baseline
    g4_min_gain: float = 0.0  # G4: (val loss without - with) / without >= this
    g4_max_step_overhead: float = 1.0  # G4: step time may grow <= 100%
    embargo_steps: int = 30  # slot embargo after a cull
    isolation_every: int = 25  # isolation monitor sampling period (steps)

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
    """G2: the seed's own signal (loss with it fully active) improved, steadily."""
    window = probe_losses[-config.g2_window :]
    if steps_in_stage < config.min_training_steps or len(window) < config.g2_window:
        return GateResult("G2", False, "waiting for the window", {}, retry=True)
    half = len(window) // 2
    first, second = fmean(window[:half]), fmean(window[half:])
    improvement = (first - second) / max(abs(first), 1e-12)
    cv = pstdev(window) / max(abs(fmean(window)), 1e-12)
    host = fmean(host_losses[-config.g2_window :]) if host_losses else second
    ratio = second / max(host, 1e-12)
    figures = {"improvement": improvement, "cv": cv, "probe_to_host": ratio}
    if not all(math.isfinite(v) for v in window):
        return GateResult("G2", False, "probe loss not finite", figures)
    if cv > config.g2_max_cv:
        return GateResult(
            "G2", False, f"probe variance too high (cv {cv:.3f})", figures
        )
    if ratio > config.g2_max_loss_ratio:
        return GateResult("G2", False, f"seed hurts: probe/host {ratio:.2f}", figures)
    if improvement < config.g2_min_improvement:
        return GateResult("G2", False, "probe did not improve", figures, retry=True)
    return GateResult("G2", True, "stable improvement", figures)


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
