"""Tamiyo: heuristic, risk engine, deadline, field reports, and growth end to end."""

import json
import threading
import time
from pathlib import Path

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


def _inputs(trend: float | None, live: int = 0) -> PolicyInputs:
    return PolicyInputs(
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
