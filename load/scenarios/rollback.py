"""rollback: restore from the fast in-memory cache and from disk, several sizes,
against a memcpy bandwidth measured in the same run on the same tensors' size.

`--device cuda` keeps the model, optimizer and the fast cache's snapshots in
device memory, so a fast restore is device-to-device copies, compared with a
device-to-device copy of the same size (timed with a synchronise each side).
`--sizes` (MB of restored state: parameters plus Adam's two moments) picks a
wide MLP host for each size, up to several GB. Bandwidth is bytes restored
over time on both sides (each byte read once and written once)."""

import argparse
import math
import time
from typing import Any

import torch

from load.scenarios.common import bench_trainer, make_spec
from load.stats import device_description, print_table, summarize, summary
from workers.engine.hooks import Hooks
from workers.engine.options import EngineOptions
from workers.engine.rollback import state_bytes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--widths", default="256,1024,2048")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--sizes",
        default=None,
        help="comma-separated MB of state (overrides --widths), e.g. 256,1024,4096",
    )
    parser.add_argument(
        "--disk-repeats",
        type=int,
        default=None,
        help="restores from disk per size (0: skip the disk figure)",
    )


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))


def _memcpy_gbps(nbytes: int, repeats: int, device: str = "cpu") -> float:
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    dst.copy_(src)  # warm: first touch of the pages
    best = []
    for _ in range(repeats):
        _sync(device)
        started = time.perf_counter()
        dst.copy_(src)
        _sync(device)
        best.append(time.perf_counter() - started)
    del src, dst
    return nbytes / sorted(best)[len(best) // 2] / 1e9


def _shape_for(size_mb: float) -> tuple[int, int]:
    """(width, depth) of a digits MLP whose parameters plus Adam state
    (3 x fp32 per parameter) come to about size_mb."""
    params = size_mb * 2**20 / 12
    width = min(8192, max(64, int(math.sqrt(params))))
    # The first block is 64 -> width; each further block is width x width.
    depth = 1 + max(1, min(63, round(params / (width * width + width))))
    return width, depth


def _measure(
    width: int,
    repeats: int,
    device: str = "cpu",
    depth: int = 2,
    disk_repeats: int | None = None,
) -> dict[str, Any]:
    spec = make_spec("digits", width, depth, 64, 1, device=device)
    options = EngineOptions(rollback_cache_mb=1e9, rollback_deadline_ms=1e9)
    with bench_trainer(spec, Hooks(), device=device, options=options) as trainer:
        trainer._setup()
        trainer._train_step(trainer._epoch_batches()[0])  # optimizer state exists
        trainer.recovery.snapshots.clear()  # only the snapshot under test in memory
        trainer.recovery.snapshot(good=True)
        snap_id = f"snap-{trainer.state.step}"
        disk_n = max(3, repeats // 4) if disk_repeats is None else disk_repeats
        info = trainer.recovery.checkpoint(good=True) if disk_n else None
        nbytes = state_bytes(trainer.recovery.core())
        fast = [
            trainer.rollback(snap_id, "bench")["latency_ms"] for _ in range(repeats)
        ]
        disk = [
            trainer.rollback(info.id, "bench")["latency_ms"]
            for _ in range(disk_n)
            if info is not None
        ]
        trainer._close()
    misses = trainer.tm.counters.get("tolaria.rollback.deadline_exceeded_total", 0)
    del trainer
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    fast_s, disk_s = summarize(fast), summarize(disk)
    memcpy = _memcpy_gbps(nbytes, repeats, device)
    fast_gbps = nbytes / (fast_s["p50"] / 1000) / 1e9
    return {
        "width": width,
        "depth": depth,
        "state_mb": nbytes / 2**20,
        "fast_p50_ms": fast_s["p50"],
        "fast_p99_ms": fast_s["p99"],
        "disk_p50_ms": disk_s.get("p50", float("nan")),
        "fast_gbps": fast_gbps,
        "memcpy_gbps": memcpy,
        "fast_to_memcpy": fast_gbps / memcpy,
        "bytes": nbytes,
        "deadline_misses": misses,
        "n": len(fast) + len(disk),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    repeats = 8 if args.quick else 30
    if args.sizes:
        shapes = [_shape_for(float(mb)) for mb in args.sizes.split(",")]
    else:
        shapes = [(int(w), 2) for w in args.widths.split(",")]
    rows = [_measure(w, repeats, args.device, d, args.disk_repeats) for w, d in shapes]
    print_table(
        f"rollback restore on {device_description(args.device)} (fast cache = "
        "memory of that device, disk = verified checkpoint)",
        rows,
        [
            "width",
            "depth",
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
