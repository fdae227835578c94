"""rollback: restore from the fast in-memory cache and from disk, several sizes,
against a memcpy bandwidth measured in the same run on the same tensors' size."""

import argparse
import shutil
import time
from typing import Any

import torch

from load.scenarios.common import make_spec, temp_dir
from load.stats import print_table, summarize, summary
from workers.engine.hooks import Hooks
from workers.engine.rollback import state_bytes
from workers.engine.trainer import Trainer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--widths", default="256,1024,2048")
    parser.add_argument("--device", default="cpu")


def _memcpy_gbps(nbytes: int, repeats: int) -> float:
    src = torch.empty(nbytes // 4, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    best = []
    for _ in range(repeats):
        started = time.perf_counter()
        dst.copy_(src)
        best.append(time.perf_counter() - started)
    return nbytes / sorted(best)[len(best) // 2] / 1e9


def _measure(width: int, repeats: int) -> dict[str, Any]:
    folder = temp_dir()
    spec = make_spec("digits", width, 2, 64, 1)
    trainer = Trainer(spec, Hooks(), run_id="bench", checkpoint_dir=folder)
    trainer._setup()
    trainer._train_step(trainer._epoch_batches()[0])  # optimizer state exists
    trainer._snapshot(good=True)
    snap_id = f"snap-{trainer.step}"
    info = trainer._checkpoint()
    nbytes = state_bytes(trainer._core_state())
    fast = [trainer.rollback(snap_id, "bench")["latency_ms"] for _ in range(repeats)]
    disk = [
        trainer.rollback(info.id, "bench")["latency_ms"]
        for _ in range(max(3, repeats // 4))
    ]
    trainer._close()
    shutil.rmtree(folder, ignore_errors=True)
    fast_s, disk_s = summarize(fast), summarize(disk)
    memcpy = _memcpy_gbps(nbytes, repeats)
    fast_gbps = nbytes / (fast_s["p50"] / 1000) / 1e9
    return {
        "width": width,
        "state_mb": nbytes / 2**20,
        "fast_p50_ms": fast_s["p50"],
        "fast_p99_ms": fast_s["p99"],
        "disk_p50_ms": disk_s["p50"],
        "fast_gbps": fast_gbps,
        "memcpy_gbps": memcpy,
        "fast_to_memcpy": fast_gbps / memcpy,
        "bytes": nbytes,
        "deadline_misses": trainer.tm.counters.get(
            "tolaria.rollback.deadline_exceeded_total", 0
        ),
        "n": len(fast) + len(disk),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    repeats = 8 if args.quick else 30
    rows = [_measure(int(w), repeats) for w in args.widths.split(",")]
    print_table(
        "rollback restore (fast cache = memory, disk = verified checkpoint)",
        rows,
        [
            "width",
            "state_mb",
            "fast_p50_ms",
            "fast_p99_ms",
            "disk_p50_ms",
            "fast_gbps",
            "memcpy_gbps",
            "fast_to_memcpy",
            "deadline_misses",
        ],
    )
    big = rows[-1]
    figures = {
        "fast_restore_ms_p50": big["fast_p50_ms"],
        "disk_restore_ms_p50": big["disk_p50_ms"],
        "state_bytes": big["bytes"],
        "memcpy_gbps": big["memcpy_gbps"],
        "fast_restore_gbps": big["fast_gbps"],
        "sizes": rows,
    }
    return summary("rollback", args.device, sum(r["n"] for r in rows), figures)
