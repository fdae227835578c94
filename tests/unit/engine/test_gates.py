import math

import pytest

from workers.engine.seeds import gates
from workers.engine.seeds.gates import GateConfig

CFG = GateConfig()


def _g0(**overrides: object) -> gates.GateResult:
    args: dict[str, object] = dict(
        known=True,
        allowed=True,
        params=100,
        bounds=(8, 1000),
        host_params=1000,
        slot_free=True,
        embargoed=False,
        dry_run_ok=True,
        config=CFG,
    )
    args.update(overrides)
    return gates.g0_sanity(**args)  # type: ignore[arg-type]


def test_g0_passes_a_sane_seed() -> None:
    assert _g0().passed


@pytest.mark.parametrize(
    "override",
    [
        {"known": False},
        {"allowed": False},
        {"params": 2},
        {"params": 5000},
        {"slot_free": False},
        {"embargoed": True},
        {"dry_run_ok": False},
        {"host_params": 10},
    ],
)
def test_g0_fails_each_check(override: dict[str, object]) -> None:
    assert not _g0(**override).passed


def test_g1() -> None:
    assert gates.g1_gradient_health(grad_norm=0.5, violations=0).passed
    assert not gates.g1_gradient_health(grad_norm=0.0, violations=0).passed
    assert not gates.g1_gradient_health(grad_norm=math.nan, violations=0).passed
    assert not gates.g1_gradient_health(grad_norm=0.5, violations=1).passed


def _g2(probe: list[float], steps: int = 100) -> gates.GateResult:
    return gates.g2_stability(
        probe_losses=probe,
        host_losses=[1.0] * len(probe),
        steps_in_stage=steps,
        config=CFG,
    )


def test_g2_passes_a_steady_improvement() -> None:
    assert _g2([1.0, 0.98, 0.96, 0.9, 0.88, 0.86]).passed


def test_g2_fails_on_noise_no_progress_harm_or_too_early() -> None:
    assert "variance" in _g2([0.1, 3.0, 0.2, 2.5, 0.1, 3.0]).reason
    assert not _g2([0.9, 0.9, 0.9, 0.95, 0.95, 0.95]).passed
    assert "hurts" in _g2([3.0, 2.9, 2.9, 2.8, 2.8, 2.7]).reason
    assert "waiting" in _g2([1.0, 0.9, 0.8, 0.7, 0.6, 0.5], steps=3).reason


def test_g3() -> None:
    ok = gates.g3_interface(
        alpha=1.0,
        blend_losses=[1.0] * 10,
        baseline=1.0,
        outputs_finite=True,
        config=CFG,
    )
    assert ok.passed
    spike = gates.g3_interface(
        alpha=1.0,
        blend_losses=[1.0] * 5 + [3.0] * 5,
        baseline=1.0,
        outputs_finite=True,
        config=CFG,
    )
    assert not spike.passed and "spiked" in spike.reason
    assert not gates.g3_interface(
        alpha=0.5, blend_losses=[1.0], baseline=1.0, outputs_finite=True, config=CFG
    ).passed
    assert not gates.g3_interface(
        alpha=1.0, blend_losses=[1.0], baseline=1.0, outputs_finite=False, config=CFG
    ).passed


def test_g4() -> None:
    def g4(with_: float, without: float, now: float = 1.0) -> gates.GateResult:
        return gates.g4_system_impact(
            val_loss_with=with_,
            val_loss_without=without,
            step_ms_now=now,
            step_ms_before=1.0,
            config=CFG,
        )

    assert g4(0.5, 0.6).passed
    assert not g4(0.7, 0.6).passed
    assert "budget" in g4(0.5, 0.6, now=5.0).reason
    assert not g4(math.nan, 0.6).passed


def test_g5() -> None:
    assert gates.g5_reset(
        module_detached=True, optimizer_clear=True, state_clear=True
    ).passed
    assert not gates.g5_reset(
        module_detached=False, optimizer_clear=True, state_clear=True
    ).passed
    assert not gates.g5_reset(
        module_detached=True, optimizer_clear=False, state_clear=True
    ).passed


def test_overrides_apply_and_unknown_keys_fail() -> None:
    config = GateConfig.from_overrides({"embargo_steps": 5, "g4_min_gain": 0.1})
    assert config.embargo_steps == 5 and isinstance(config.embargo_steps, int)
    assert config.g4_min_gain == 0.1
    with pytest.raises(ValueError, match="unknown gate"):
        GateConfig.from_overrides({"nope": 1.0})
