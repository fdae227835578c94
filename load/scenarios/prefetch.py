"""prefetch: blueprint builds under concurrency with an injected ready latency.

Each of C requesters asks for a module it has not prefetched (a distinct shape)
and waits for it. The injected latency is the module's ready time: it is ready
no sooner than that after its build starts (as if compiled elsewhere), and the
real construction (build, seeded init, G0 dry run) runs inside that window.
What a requester waits beyond it is the cache's own cost: queueing behind the
other builds, thread hand-off, and any construction that outlasts the window.
"build itself" is the construction alone, timed inside the builder thread."""

import argparse
import os
import threading
import time
from typing import Any

from load.stats import print_table, summarize, summary
from workers.engine.blueprints import BlueprintCache


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--delay-ms", type=float, default=20.0)


def _requester(
    cache: BlueprintCache,
    index: int,
    rounds: int,
    out: list[float],
    builds: list[float],
) -> None:
    for r in range(rounds):
        shape = (16 + 100 * index + r,)  # a cold build every time
        name = "low_rank" if r % 2 else "residual_mlp"
        started = time.perf_counter()
        cache.prefetch(name, shape, "cpu")
        built = cache.take(name, shape, "cpu", timeout=30)
        out.append((time.perf_counter() - started) * 1000)
        builds.append(built.build_ms)


def run(args: argparse.Namespace) -> dict[str, Any]:
    rounds = 5 if args.quick else 20
    delay = args.delay_ms / 1000
    cache = BlueprintCache(workers=2 * args.concurrency, build_delay_s=delay)
    latencies: list[list[float]] = [[] for _ in range(args.concurrency)]
    builds: list[float] = []  # each module's own build time (in its thread)
    threads = [
        threading.Thread(
            target=_requester, args=(cache, i, rounds, latencies[i], builds)
        )
        for i in range(args.concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache.close()
    overhead = [x - args.delay_ms for lane in latencies for x in lane]
    s, b = summarize(overhead), summarize(builds)
    print_table(
        f"prefetch: concurrency {args.concurrency}, injected {args.delay_ms} "
        f"ms, {os.cpu_count()} CPUs; latency minus injected delay (ms)",
        [{"what": "overhead", **s}, {"what": "build itself", **b}],
        ["what", "n", "min", "p50", "p95", "p99", "mean"],
    )
    print(
        "overhead: the wait beyond the injected ready latency, inside which each "
        "cold build (construction, seeded init, G0 dry run) runs; 'build itself' "
        f"is that work timed in the builder thread. Speculative refills run: "
        f"{cache.refills}"
    )
    figures = {
        "overhead_ms_mean": s["mean"],
        "overhead_ms_p95": s["p95"],
        "build_ms_mean": b["mean"],
        "refills": cache.refills,
        "cpus": os.cpu_count(),
        "concurrency": args.concurrency,
        "injected_ms": args.delay_ms,
    }
    return summary("prefetch", "cpu", len(overhead), figures)
