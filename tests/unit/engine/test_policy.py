"""Tamiyo: heuristic, risk engine, deadline, field reports, and growth end to end."""

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from api_schemas.runs import Morphogenesis
from tests.unit.engine.helpers import Script, growth_spec, run, spec
from workers.engine.policy.base import Decision, PolicyInputs, SlotState
from workers.engine.policy.deadline import DeadlineRunner
from workers.engine.policy.field_report import FieldReportLog
from workers.engine.policy.heuristic import HeuristicPolicy
from workers.engine.policy.risk import RiskEngine

BPS = [
    {
        "name": "low_rank",
        "risk": 0.05,
        "slot_kinds": ["vector"],
        "params_estimate": 100,
    },
    {"name": "noise", "risk": 0.9, "slot_kinds": ["vector"], "params_estimate": 1000},
]


def _inputs(trend: float | None, live: int = 0, **fields: Any) -> PolicyInputs:
    inputs = PolicyInputs(
        step=100,
        epoch=1,
        loss=1.0,
        loss_ewma=1.0,
        loss_trend=trend,
        accuracy=0.5,
        val_loss=None,
        grad_norm=None,
        step_ms=1.0,
        slots=[
            SlotState("a", "vector", "DORMANT", True, 0),
            SlotState("b", "vector", "DORMANT", True, 0),
        ],
        blueprints=BPS,
        seeds_germinated=0,
        max_seeds=2,
        live_seeds=live,
        conservative=False,
    )
    for name, value in fields.items():
        setattr(inputs, name, value)
    return inputs


def test_heuristic_grows_on_plateau_only() -> None:
    policy = HeuristicPolicy()
    assert policy.decide(_inputs(-0.2)).action == "wait"
    assert policy.decide(_inputs(0.0, live=1)).action == "wait"
    decision = policy.decide(_inputs(0.0))
    assert (decision.action, decision.slot, decision.blueprint) == (
        "germinate",
        "a",
        "low_rank",
    )


def test_heuristic_never_grows_a_converged_or_overfitting_host() -> None:
    assert "converged" in HeuristicPolicy().decide(_inputs(0.0, accuracy=1.0)).reason
    overfits = _inputs(0.0, accuracy=0.9, val_accuracy=0.7)
    assert "overfits" in HeuristicPolicy().decide(overfits).reason
    # A small gap is fine: the host is capacity-limited, not overfitting.
    fits = _inputs(0.0, accuracy=0.9, val_accuracy=0.88)
    assert HeuristicPolicy().decide(fits).action == "germinate"


def test_heuristic_grows_early_in_the_run_not_late() -> None:
    policy = HeuristicPolicy()  # warm-up 5% (at least 30 steps), last 50%
    assert "warming up" in policy.decide(_inputs(0.0, step=40, total_steps=1000)).reason
    assert "too late" in policy.decide(_inputs(0.0, step=600, total_steps=1000)).reason
    assert policy.decide(_inputs(0.0, step=60, total_steps=1000)).action == "germinate"


def test_heuristic_smooths_the_batch_accuracy() -> None:
    """One lucky batch at 100% does not read as converged."""
    policy = HeuristicPolicy()
    policy.decide(_inputs(-0.5, accuracy=0.8))  # waits (learning fast), records
    assert policy.decide(_inputs(0.0, accuracy=1.0)).action == "germinate"


def test_heuristic_chooses_from_evidence() -> None:
    """A blueprint culled more often than fossilised is not planted again; one
    that fossilised here is preferred over a larger untried one; the slot whose
    seeds were culled is tried last."""
    bps = [
        {"name": "big", "risk": 0.1, "slot_kinds": ["vector"], "params_estimate": 900},
        {"name": "mid", "risk": 0.1, "slot_kinds": ["vector"], "params_estimate": 500},
        {"name": "low", "risk": 0.1, "slot_kinds": ["vector"], "params_estimate": 100},
    ]
    policy = HeuristicPolicy()
    fresh = policy.decide(_inputs(0.0, blueprints=bps))
    assert (fresh.slot, fresh.blueprint) == ("a", "big")
    evidence = _inputs(
        0.0,
        blueprints=bps,
        blueprint_record={"big": {"culled": 2}, "low": {"fossilized": 1}},
        slot_failures={"a": 2},
    )
    decision = policy.decide(evidence)
    assert (decision.slot, decision.blueprint) == ("b", "low")


def test_heuristic_options_are_checked() -> None:
    policy = HeuristicPolicy(converged_accuracy=0.8, max_live=2)
    assert "converged" in policy.decide(_inputs(0.0, accuracy=0.85)).reason
    assert policy.decide(_inputs(0.0, live=1, accuracy=0.5)).action == "germinate"
    with pytest.raises(ValidationError):
        HeuristicPolicy(converged_acuracy=0.8)  # a typo is an error, not ignored


def test_spec_refuses_bad_heuristic_options_but_passes_a_plugins_through() -> None:
    with pytest.raises(ValidationError, match="policy_options"):
        Morphogenesis(policy_options={"last_fraction": 2.0})
    with pytest.raises(ValidationError, match="policy_options"):
        Morphogenesis(policy_options={"unknown": 1})
    ok = Morphogenesis(policy_options={"last_fraction": 0.3})
    assert ok.policy_options == {"last_fraction": 0.3}
    plugin = Morphogenesis(policy="my_policy", policy_options={"anything": "x"})
    assert plugin.policy_options == {"anything": "x"}


def test_risk_engine_quarantines_and_goes_conservative() -> None:
    risk = RiskEngine(conservative_steps=10)
    noisy = Decision("germinate", slot="a", blueprint="noise")
    assert risk.review(1, noisy).action == "wait"
    good = Decision("germinate", slot="a", blueprint="low_rank")
    assert risk.review(1, good).action == "germinate"
    assert risk.observe(5, loss=5.0, loss_ewma=1.0, violations=0) == "loss spike"
    assert "conservative" in risk.review(6, good).reason
    assert risk.review(20, good).action == "germinate"
    assert risk.observe(30, 1.0, 1.0, violations=1) == "isolation violations"
    assert "paused" in risk.review(31, good).reason


class SlowPolicy:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def decide(self, inputs: PolicyInputs) -> Decision:
        time.sleep(self.delay_s)
        return Decision("germinate", slot="a", blueprint="low_rank")


class GatedPolicy:
    """Decides only once the test opens the gate: a policy as late as we like."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def decide(self, inputs: PolicyInputs) -> Decision:
        self.gate.wait(10.0)
        return Decision("germinate", slot="a", blueprint="low_rank")


def test_deadline_discards_a_late_decision_without_stalling() -> None:
    # The policy cannot answer until the gate opens, so every line before
    # `gate.set()` proves that submitting and polling never wait for it. The
    # 100 ms deadline leaves room for a loaded machine between submit and poll.
    policy = GatedPolicy()
    runner = DeadlineRunner(policy, deadline_ms=100)
    assert runner.submit(_inputs(0.0))
    assert runner.poll() == (None, False)  # inside the deadline: nothing yet
    time.sleep(0.15)
    assert runner.poll() == (None, True)  # past the deadline: one timeout
    assert runner.poll() == (None, False)  # counted once, not per poll
    assert not runner.submit(_inputs(0.0))  # still busy with the late call
    policy.gate.set()
    for _ in range(1000):
        if runner._future_done():
            break
        time.sleep(0.005)
    assert runner.poll() == (None, False)  # the late answer is dropped
    assert runner.timeouts == 1 and not runner.busy
    # A generous deadline: this half checks the answer, not the speed (a loaded CI
    # machine once took over 50 ms to start the first call on the pool).
    fast = DeadlineRunner(HeuristicPolicy(), deadline_ms=2000)
    decision, timed_out = fast.decide(_inputs(0.0))
    assert decision is not None and decision.action == "germinate" and not timed_out
    runner.close()
    fast.close()


def test_field_report_outcomes(tmp_path: Path) -> None:
    log = FieldReportLog(tmp_path / "fr.jsonl", window=10)
    log.track(0, {"action": "germinate"}, {}, loss_before=1.0)
    log.observe(5, 0.5)
    assert log.written == 0
    log.observe(10, 0.5)
    log.track(10, {"action": "germinate"}, {}, loss_before=1.0)
    log.observe(12, 2.0, final=True)
    lines = [json.loads(x) for x in (tmp_path / "fr.jsonl").read_text().splitlines()]
    assert [x["outcome"] for x in lines] == ["success", "regression"]
    assert lines[1]["window_complete"] is False


def test_slow_plugin_policy_times_out_in_a_run(tmp_path: Path) -> None:
    script = Script()
    run_spec = spec(
        epochs=1,
        morphogenesis={
            "enabled": True,
            "decision_deadline_ms": 1,
            "policy": "tests.unit.engine.test_policy:slow_policy",
        },
    )
    _, outcome = run(script, run_spec, tmp_path)
    assert outcome.state == "completed", outcome.error
    assert outcome.result["tamiyo_timeouts"] >= 1
    assert script.named("tolaria.tamiyo_timeout")
    assert script.named("tamiyo.conservative_entered")
    assert outcome.result["seeds"].get("germinated", 0) == 0


def slow_policy() -> SlowPolicy:
    return SlowPolicy(0.05)


def _stage_path(script: Script, seed_id: str) -> list[str]:
    return [
        p["attrs"]["to"]
        for p in script.named("kasmina.seed.stage_changed")
        if p["attrs"]["seed_id"] == seed_id
    ]


def test_growth_completes_a_full_lifecycle(tmp_path: Path) -> None:
    script = Script()
    run_spec = growth_spec()
    _, outcome = run(script, run_spec, tmp_path)
    assert outcome.state == "completed", outcome.error
    assert _stage_path(script, "seed-1") == [
        "GERMINATED",
        "TRAINING",
        "BLENDING",
        "SHADOWING",
        "PROBATIONARY",
        "FOSSILIZED",
    ]
    assert script.named("tamiyo.decision")[0]["attrs"]["inputs"]
    assert (tmp_path / "ckpt" / "field_reports.jsonl").is_file()
    assert outcome.result["isolation_violations"] == 0


def test_forced_noise_seed_is_culled_by_a_gate(tmp_path: Path) -> None:
    script = Script()
    script.at(5, "seed_enable", slot="block1", blueprint="noise")
    run_spec = spec(task="spirals", epochs=5, morphogenesis={"enabled": False})
    _, outcome = run(script, run_spec, tmp_path)
    assert outcome.state == "completed", outcome.error
    path = _stage_path(script, "seed-1")
    assert "CULLED" in path and "FOSSILIZED" not in path
    failures = script.named("kasmina.gate_failure")
    assert failures and failures[0]["attrs"]["blueprint"] == "noise"
