"""`python -m load rc1`: the CPU quick sweep of RC1's four cases, as RC1's CI
ran it, through the CLI's entry point: each case's figures are produced and
finite, and its counters agree with what the harness made happen."""

import json
import math
from pathlib import Path
from typing import Any

import pytest

from load.__main__ import main


def _rc1(tmp_path: Path, *argv: str) -> dict[str, Any]:
    out = tmp_path / "rc1.json"
    assert main(["rc1", *argv, "--json", str(out)]) == 0
    figures: dict[str, Any] = json.loads(out.read_text())["figures"]
    return figures


def _finite_positive(figures: dict[str, Any], *keys: str) -> None:
    for key in keys:
        value = figures[key]
        assert isinstance(value, int | float) and math.isfinite(value), key
        assert value > 0, key


def test_quick_sweep_of_all_four_cases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = _rc1(tmp_path, "--quick")
    printed = capsys.readouterr().out
    assert printed.count("vs RC1 published") >= 5  # the banner and each table
    assert set(figures) == {
        "steady-train",
        "rollback",
        "tamiyo-timeout",
        "kasmina-prefetch",
    }

    train = figures["steady-train"]
    _finite_positive(
        train,
        "step_ms_mean",
        "step_ms_p95",
        "epoch_ms_mean",
        "epoch_ms_p95",
        "plain_step_ms_mean",
        "plain_epoch_ms_mean",
    )
    assert train["epochs"] == 3 * 2  # --epochs 3, 2 engine runs (--quick)
    assert train["step_ms_p95"] >= train["step_ms_mean"] * 0.5

    back = figures["rollback"]
    _finite_positive(back, "restore_ms_mean", "restore_ms_p95")
    assert back["rejected"] == []
    assert back["exact_restores"] == back["restores"]  # bit-for-bit
    assert back["deadline_exceeded_total"] == back["over_deadline"]
    # Each restore over the 5 ms deadline is answered by one emergency
    # rollback; on a loaded machine enough of them reach L4 and halt the run.
    assert back["emergency_rollbacks"] <= back["deadline_exceeded_total"]
    assert back["outcome"] in ("completed", "halted")
    if back["outcome"] == "completed":
        # Three epochs: the set-up snapshot and the first two epoch ends
        # restored from memory, those epochs' checkpoints from disk.
        assert back["restores"] == 5
        _finite_positive(back, "disk_restore_ms_mean")

    policy = figures["tamiyo-timeout"]
    assert policy["decisions_asked"] >= 2
    assert policy["slow_calls"] >= 2  # each run's 2nd decision overran
    # Each overrunning decision is counted, or was still running at its run's
    # end; prompt ones missing the deadline on a loaded machine add to it.
    assert policy["timeouts"] + policy["in_flight_at_end"] >= policy["slow_calls"]
    assert policy["timeouts"] == policy["timeout_events"] == policy["runner_timeouts"]
    assert policy["in_flight_at_end"] in (0, 1, 2)  # at most one a run, 2 runs

    prefetch = figures["kasmina-prefetch"]
    _finite_positive(prefetch, "latency_ms_mean", "latency_ms_p95")
    assert prefetch["requests"] == 16
    # No module is ready before the injected 40 ms ready latency.
    assert 40 <= prefetch["latency_ms_mean"] <= prefetch["latency_ms_p95"] + 1e-9
    assert prefetch["engine_default_pool_latency_ms_mean"] >= 40


def test_every_second_decision_overrunning_counts_about_half(
    tmp_path: Path,
) -> None:
    """A 20 ms decision deadline keeps the prompt decisions inside it even on
    a loaded machine, so the counter follows the overrunning ones."""
    figures = _rc1(
        tmp_path,
        "tamiyo-timeout",
        "--timeout-every",
        "2",
        "--deadline-ms",
        "20",
        "--epochs",
        "40",
        "--repeats",
        "1",
    )
    policy = figures["tamiyo-timeout"]
    asked, slow, timeouts = (
        policy["decisions_asked"],
        policy["slow_calls"],
        policy["timeouts"],
    )
    assert asked >= 4
    assert slow == asked // 2  # the policy overran every second decision
    # Every overrunning decision is counted, but the last may still have been
    # running (within its deadline) when the run ended.
    assert slow - 1 <= timeouts <= asked
    assert 0.25 <= timeouts / asked <= 0.75
    assert policy["timeouts"] == policy["timeout_events"]
    assert policy["in_flight_at_end"] in (0, 1)
    assert policy["decisions_acted"] + timeouts + policy["in_flight_at_end"] == asked


def test_rollbacks_over_their_deadline_escalate_to_a_halt(tmp_path: Path) -> None:
    """RC1's rollback drill: no restore can meet a 1 us deadline, so every
    operator rollback is a failure on the ladder (L3), each keeping the state
    it restored (no emergency rollback on top), and the sixth failure in the
    window halts the run (four epochs plan seven restores)."""
    back = _rc1(tmp_path, "rollback", "--deadline-ms", "0.001", "--epochs", "4")[
        "rollback"
    ]
    assert back["restores"] == 6
    assert back["exact_restores"] == 6  # each restore exact, none undone
    assert back["emergency_rollbacks"] == 0
    assert back["deadline_exceeded_total"] == 6 == back["over_deadline"]
    assert back["outcome"] == "halted"
    assert back["escalations"] == ["CONSERVATIVE"] * 5 + ["HALT"]
