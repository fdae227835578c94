"""rc1's steady-train, rollback and kasmina-prefetch cases: each runs its
measurement (rc1_train.py, rc1_rollback.py, rc1_prefetch.py) and prints its
table (rc1_report.py); tamiyo-timeout is in rc1_timeout.py."""

import argparse
from typing import Any

from load.scenarios import rc1_prefetch, rc1_rollback, rc1_train
from load.scenarios.rc1_baselines import published
from load.scenarios.rc1_report import mean, p95, print_case, row


def steady_train(args: argparse.Namespace) -> dict[str, Any]:
    got = rc1_train.steady_train(args)
    e, p = got["engine"], got["plain"]
    fig = {
        "step_ms_mean": mean(e.step_ms),
        "step_ms_p95": p95(e.step_ms),
        "plain_step_ms_mean": mean(p.step_ms),
        "plain_step_ms_p95": p95(p.step_ms),
        "epoch_ms_mean": mean(e.epoch_ms),
        "epoch_ms_p95": p95(e.epoch_ms),
        "plain_epoch_ms_mean": mean(p.epoch_ms),
        "plain_epoch_ms_p95": p95(p.epoch_ms),
        "steps": len(e.step_ms),
        "epochs": len(e.epoch_ms),
    }
    c = "steady-train"
    rows = [
        row(
            c,
            args,
            "step ms mean",
            fig["step_ms_mean"],
            baseline=fig["plain_step_ms_mean"],
        ),
        row(
            c,
            args,
            "step ms p95",
            fig["step_ms_p95"],
            baseline=fig["plain_step_ms_p95"],
        ),
        row(
            c,
            args,
            "epoch ms mean",
            fig["epoch_ms_mean"],
            baseline=fig["plain_epoch_ms_mean"],
            rc1_key="epoch_ms_mean",
        ),
        row(
            c,
            args,
            "epoch ms p95",
            fig["epoch_ms_p95"],
            baseline=fig["plain_epoch_ms_p95"],
            rc1_key="epoch_ms_p95",
        ),
    ]
    print_case(
        f"rc1 steady-train: --epochs {args.epochs} --batch-size {args.batch_size} "
        f"x {args.repeats} runs a side, task {args.task}",
        rows,
        [
            "same-run baseline: a plain PyTorch loop, same model, data, Adam, "
            "batches (interleaved runs)",
            f"{fig['steps']} step intervals and {fig['epochs']} epochs a side; "
            "epoch = RC1's tolaria.training.latency_ms (one epoch's training, "
            "validation excluded); RC1 published no step figure",
        ],
    )
    return fig


def rollback(args: argparse.Namespace) -> dict[str, Any]:
    got = rc1_rollback.rollback(args)
    mem, disk = got["memory_ms"], got["disk_ms"]
    fig = {
        "restore_ms_mean": mean(mem),
        "restore_ms_p95": p95(mem),
        "disk_restore_ms_mean": mean(disk),
        "memcpy_ms": got["memcpy_ms"],
        "deadline_exceeded_total": got["deadline_exceeded_total"],
        "over_deadline": got["over_deadline"],
        "restores": got["restores"],
        "exact_restores": got["exact"],
        "rejected": got["rejected"],
        "state_bytes": got["state_bytes"],
        "emergency_rollbacks": got["emergency_rollbacks"],
        "emergency_restore_ms_mean": mean(got["emergency_ms"]),
        "escalations": got["escalations"],
        "outcome": got["outcome"],
        "halt_reason": got["halt_reason"],
    }
    c = "rollback"
    memcpy = got["memcpy_ms"]
    rows = [
        row(
            c,
            args,
            "restore ms mean (memory)",
            fig["restore_ms_mean"],
            baseline=memcpy,
            rc1_key="restore_ms_mean",
        ),
        row(c, args, "restore ms p95 (memory)", fig["restore_ms_p95"], baseline=memcpy),
        row(
            c,
            args,
            "restore ms mean (disk)",
            fig["disk_restore_ms_mean"],
            baseline=memcpy,
        ),
        row(
            c,
            args,
            "deadline_exceeded_total",
            float(fig["deadline_exceeded_total"]),
            baseline=float(fig["over_deadline"]),
            rc1_key="deadline_exceeded_total",
        ),
    ]
    print_case(
        f"rc1 rollback: --deadline-ms {args.deadline_ms} --epochs {args.epochs} "
        f"--batch-size {args.batch_size}, {len(mem)} memory + {len(disk)} disk "
        f"restores by operator command",
        rows,
        [
            f"same-run baseline: restore rows, a memcpy of the same "
            f"{fig['state_bytes']} bytes; deadline_exceeded_total, the restores "
            "(operator's and emergency) timed over the deadline: ratio 1 = the "
            "counter agrees",
            f"exact restores (every model and optimizer tensor equal to the "
            f"snapshot's): {fig['exact_restores']} of {fig['restores']}; "
            f"rejected commands: {len(fig['rejected'])}",
            f"engine handling: each restore over the deadline is a failure on "
            f"the emergency ladder (escalations: "
            f"{', '.join(fig['escalations']) or 'none'}; a late restore keeps "
            f"the state asked for, six failures in the window halt); emergency "
            f"rollbacks: {fig['emergency_rollbacks']}; run {fig['outcome']}"
            + (f" ({fig['halt_reason']})" if fig["halt_reason"] else ""),
            "RC1's 12 ms was a stubbed rollback's constant (rc1_baselines.py)",
        ],
    )
    return fig


def kasmina_prefetch(args: argparse.Namespace) -> dict[str, Any]:
    got = rc1_prefetch.kasmina_prefetch(args)
    c, ready = "kasmina-prefetch", args.ready_latency_ms
    fig: dict[str, Any] = {}
    rows = []
    for label, run in got.items():
        lat = run["latency_ms"]
        key = "" if label == "burst" else f"{label}_"
        fig[f"{key}latency_ms_mean"] = mean(lat)
        fig[f"{key}latency_ms_p95"] = p95(lat)
        fig[f"{key}build_ms_mean"] = mean(run["build_ms"])
        fig[f"{key}workers"] = run["workers"]
        fig[f"{key}requests"] = len(lat)
        rc1 = label == "burst"
        rows += [
            row(
                c,
                args,
                f"latency ms mean, {run['workers']} builders",
                mean(lat),
                baseline=ready,
                rc1_key="latency_ms_mean" if rc1 else None,
            ),
            row(
                c,
                args,
                f"latency ms p95, {run['workers']} builders",
                p95(lat),
                baseline=ready,
                rc1_key="latency_ms_p95" if rc1 else None,
            ),
        ]
    rc1_row = published(c, "latency_ms_mean", args.device)
    print_case(
        f"rc1 kasmina-prefetch: --requests {args.requests} --concurrency "
        f"{args.concurrency} --ready-latency-ms {ready} on {args.device}",
        rows,
        [
            "same-run baseline: the injected ready latency (no request can be "
            "ready sooner); builds themselves took "
            f"{fig['build_ms_mean']:.3g} ms mean inside that window",
            f"RC1 published at {rc1_row.conditions if rc1_row else 'n/a'}",
        ],
    )
    return fig
