"""policy-timeout: a policy that sometimes overruns its deadline, vs a fast one.

Step times come from the same boundary timestamps as steady-train; the policy is
asked every step so the slow one overruns often."""

import argparse
import random
import statistics
import time
from typing import Any

from load.scenarios.common import (
    bench_trainer,
    import_paths_allowed,
    intervals_ms,
    make_spec,
    now,
)
from load.stats import print_table, summarize, summary
from workers.engine.hooks import EngineCommand, Hooks
from workers.engine.options import EngineOptions
from workers.engine.policy.base import Decision, PolicyInputs


class SometimesSlow:
    """Waits 20 ms on one call in four (seeded), otherwise answers at once."""

    def __init__(self, slow_fraction: float = 0.25, delay_s: float = 0.02) -> None:
        self.rng = random.Random(0)
        self.slow_fraction, self.delay_s = slow_fraction, delay_s

    def decide(self, inputs: PolicyInputs) -> Decision:
        if self.rng.random() < self.slow_fraction:
            time.sleep(self.delay_s)
        return Decision(reason="benchmark: never grows")


class Quick:
    def decide(self, inputs: PolicyInputs) -> Decision:
        return Decision(reason="benchmark: never grows")


def sometimes_slow() -> SometimesSlow:
    return SometimesSlow()


def quick() -> Quick:
    return Quick()


def _run(policy: str, steps: int) -> tuple[list[float], int]:
    stamps: list[float] = []

    def next_command() -> EngineCommand | None:
        stamps.append(now())
        return None

    spec = make_spec(
        "digits",
        512,
        None,
        128,
        steps,
        morphogenesis={
            "enabled": True,
            "policy": f"load.scenarios.policy_timeout:{policy}",
            "decision_deadline_ms": 5,
        },
    )
    with (
        bench_trainer(
            spec,
            Hooks(next_command=next_command),
            options=EngineOptions(policy_every=1),
        ) as trainer,
        import_paths_allowed(__name__),
    ):
        outcome = trainer.run()
    if outcome.state != "completed":
        raise RuntimeError(f"engine run ended {outcome.state}: {outcome.error}")
    return intervals_ms(stamps, 10), int(outcome.result.get("tamiyo_timeouts", 0))


def run(args: argparse.Namespace) -> dict[str, Any]:
    steps, repeats = (150, 2) if args.quick else (400, 4)
    with_, without, timeouts, ratios = [], [], 0, []
    for _ in range(repeats):
        slow, count = _run("sometimes_slow", steps)
        fast, _ = _run("quick", steps)
        with_ += slow
        without += fast
        timeouts += count
        ratios.append(summarize(slow)["p99"] / summarize(fast)["p99"])
    w, o = summarize(with_), summarize(without)
    print_table(
        "policy-timeout: step ms, policy asked every step, deadline 5 ms, "
        "slow policy sleeps 20 ms on 1 call in 4",
        [{"policy": "sometimes slow", **w}, {"policy": "quick", **o}],
        ["policy", "n", "min", "p50", "p95", "p99", "mean"],
    )
    ratio = statistics.median(ratios)
    print(
        f"timeouts counted: {timeouts}; p99 ratio with/without (median of "
        f"repeats): {ratio:.3f} (goal <= 1.1)"
    )
    figures = {
        "timeouts": timeouts,
        "step_ms_p99_with": w["p99"],
        "step_ms_p99_without": o["p99"],
        "p99_ratio": ratio,
    }
    return summary("policy-timeout", "cpu", len(with_) + len(without), figures)
