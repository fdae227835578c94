"""rc1's tamiyo-timeout case: Tamiyo's deadline runner with a policy made to
overrun (rc1_train.py), its counters and step latencies against the same
policy never overrunning, printed as rc1_report.py's table."""

import argparse
from typing import Any

from load.scenarios import rc1_train
from load.scenarios.rc1_report import mean, p95, print_case, ratio, row


def tamiyo_timeout(args: argparse.Namespace) -> dict[str, Any]:
    got = rc1_train.tamiyo_timeout(args)
    slow, fast = got["slow"], got["never_slow"]
    x = slow.extra
    fig = {
        **x,
        "timeout_fraction": ratio(x["timeouts"], x["decisions_asked"]),
        "step_ms_p95": p95(slow.step_ms),
        "step_ms_p95_never_slow": p95(fast.step_ms),
        "step_ms_mean": mean(slow.step_ms),
        "step_ms_mean_never_slow": mean(fast.step_ms),
        "never_slow_timeouts": fast.extra["timeouts"],
    }
    c = "tamiyo-timeout"
    fig["in_flight_at_end"] = (
        x["decisions_asked"] - x["decisions_acted"] - x["timeouts"]
    )
    rows = [
        row(
            c,
            args,
            "tolaria.timeout.tamiyo_total",
            float(x["timeouts"]),
            baseline=float(x["slow_calls"]),
            rc1_key="timeouts",
        ),
        row(
            c,
            args,
            "timeouts / decisions asked",
            fig["timeout_fraction"] or float("nan"),
            baseline=1 / args.timeout_every if args.timeout_every else 0.0,
        ),
        row(
            c,
            args,
            "step ms mean",
            fig["step_ms_mean"],
            baseline=fig["step_ms_mean_never_slow"],
        ),
        row(
            c,
            args,
            "step ms p95",
            fig["step_ms_p95"],
            baseline=fig["step_ms_p95_never_slow"],
        ),
    ]
    print_case(
        f"rc1 tamiyo-timeout: --timeout-every {args.timeout_every} --deadline-ms "
        f"{args.deadline_ms} --epochs {args.epochs} --batch-size "
        f"{args.batch_size} x {args.repeats} runs a side, a decision asked "
        f"every {args.policy_every} step(s)",
        rows,
        [
            "same-run baseline: counter row, the decisions the policy was made "
            "to overrun (sleeping 2x the deadline); fraction row, 1/N; step "
            "rows, the same policy never overrunning (its run counted "
            f"{fig['never_slow_timeouts']} timeouts: the machine's own misses)",
            f"engine handling: {x['decisions_asked']} decisions asked, "
            f"{x['decisions_acted']} answered in time and acted on, "
            f"{x['timeouts']} late (counter; {x['timeout_events']} "
            f"tolaria.tamiyo_timeout events; each late answer dropped), "
            f"{fig['in_flight_at_end']} still running at a run's end; "
            f"conservative mode entered {x['conservative_entered']} time(s); no "
            "new request while a late one runs, so no step waits for it",
            "RC1 published a count (1 timeout of 3 decisions, one per epoch): "
            "the ratio is counts, not speed",
        ],
    )
    return fig
