"""rc1 kasmina-prefetch: a burst of `--requests` blueprint prefetches from
`--concurrency` requesters into Kasmina's build cache (workers/engine/
blueprints.py: BlueprintCache, the cache the seed manager prefetches into
and germination takes from), each module ready no sooner than
`--ready-latency-ms` after its build starts (the cache's injected ready
latency, as RC1's artificial readiness delay).

A request is a prefetch of a module not yet built (a distinct shape each, so
every one is a cold build: construction, seeded init, the G0 dry run) and
the `take` that waits for it; its latency runs from the prefetch call to the
module in hand. Same-run baseline: the injected ready latency itself, the
floor no request can beat, so latency / ready latency is the cache's own
cost. Run twice: with a builder pool as wide as the concurrency (RC1's
readiness backend did not queue), and with the engine's default pool of 2."""

import argparse
import inspect
import threading
import time
from typing import Any

from workers.engine.blueprints import BlueprintCache

# The builder pool the engine gives its cache (build.py leaves the default).
ENGINE_DEFAULT_POOL: int = (
    inspect.signature(BlueprintCache).parameters["workers"].default
)


def _requester(
    cache: BlueprintCache,
    device: str,
    jobs: list[int],
    out: list[float],
    builds: list[float],
) -> None:
    for job in jobs:
        shape = (16 + job,)  # a cold build every time
        name = "low_rank" if job % 2 else "residual_mlp"
        started = time.perf_counter()
        cache.prefetch(name, shape, device)
        built = cache.take(name, shape, device, timeout=60)
        out.append((time.perf_counter() - started) * 1000)
        builds.append(built.build_ms)


def burst(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    cache = BlueprintCache(workers=workers, build_delay_s=args.ready_latency_ms / 1000)
    lanes: list[list[int]] = [
        list(range(i, args.requests, args.concurrency)) for i in range(args.concurrency)
    ]
    latencies: list[float] = []
    builds: list[float] = []
    threads = [
        threading.Thread(
            target=_requester, args=(cache, args.device, lane, latencies, builds)
        )
        for lane in lanes
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - started
    cache.close()
    return {
        "workers": workers,
        "latency_ms": latencies,
        "build_ms": builds,
        "wall_s": wall_s,
        "hits": cache.hits,
        "misses": cache.misses,
    }


def kasmina_prefetch(args: argparse.Namespace) -> dict[str, Any]:
    wide = args.workers or args.concurrency
    runs = {"burst": burst(args, wide)}
    if wide != ENGINE_DEFAULT_POOL:
        runs["engine_default_pool"] = burst(args, ENGINE_DEFAULT_POOL)
    return runs
