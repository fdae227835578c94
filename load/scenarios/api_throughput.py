"""api-throughput: a load generator in a second process against the gateway.

Targets GET /api/v1/runs/{id}, GET /api/v1/runs, POST /api/v1/runs and a bare
FastAPI endpoint mounted on the same server (ESPER_BENCH_BARE=1), so the ratio
to bare is the cost of Esper's own work (auth, database, serialisation).
"""

import argparse
import asyncio
import multiprocessing as mp
import time
from typing import Any

import httpx

from load.live_stack import LocalStack
from load.stats import print_table, summarize, summary

TARGETS = {
    "bare": ("GET", "/bench/bare"),
    "get_run": ("GET", "/api/v1/runs/{run}"),
    "list_runs": ("GET", "/api/v1/runs?limit=50"),
    "create_run": ("POST", "/api/v1/runs"),
}
# Runs the load creates must never train: a device no CPU worker serves.
IDLE_SPEC = {
    "task": "digits",
    "epochs": 1,
    "device": "cuda:9",
    "labels": {"bench": "api-throughput"},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)


async def _hammer(
    url: str, method: str, path: str, seconds: float, concurrency: int
) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def lane() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                body = IDLE_SPEC if method == "POST" else None
                response = await client.request(method, path, json=body)
                response.raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(lane() for _ in range(concurrency)))
    return latencies


def _load_process(
    url: str,
    method: str,
    path: str,
    seconds: float,
    concurrency: int,
    out: "mp.Queue[list[float]]",
) -> None:
    out.put(asyncio.run(_hammer(url, method, path, seconds, concurrency)))


def measure(
    url: str, method: str, path: str, seconds: float, concurrency: int
) -> dict[str, float]:
    queue: mp.Queue[list[float]] = mp.Queue()
    proc = mp.Process(
        target=_load_process, args=(url, method, path, seconds, concurrency, queue)
    )
    proc.start()
    latencies = queue.get(timeout=seconds + 120)
    proc.join(30)
    return {"rps": len(latencies) / seconds, **summarize(latencies)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    seconds = 3.0 if args.quick else args.seconds
    env = {"ESPER_BENCH_BARE": "1"}
    with LocalStack(workers=0, env=env) as stack:
        client = httpx.Client(base_url=stack.url)
        run_id = client.post("/api/v1/runs", json=IDLE_SPEC).json()["id"]
        for _ in range(100):
            client.post("/api/v1/runs", json=IDLE_SPEC)
        results = {
            name: measure(
                stack.url, method, path.format(run=run_id), seconds, args.concurrency
            )
            for name, (method, path) in TARGETS.items()
        }
    rows = [{"target": name, **r} for name, r in results.items()]
    print_table(
        f"api-throughput: {args.concurrency} connections from a second "
        f"process, {seconds:.0f} s each; latency ms",
        rows,
        ["target", "rps", "n", "p50", "p99"],
    )
    bare = results["bare"]["rps"]
    ratios = {f"ratio_{name}_to_bare": r["rps"] / bare for name, r in results.items()}
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.2f}")
    return summary(
        "api-throughput",
        "cpu",
        sum(int(r["n"]) for r in results.values()),
        {
            "bare_rps": bare,
            "get_run_rps": results["get_run"]["rps"],
            "list_runs_rps": results["list_runs"]["rps"],
            "create_run_rps": results["create_run"]["rps"],
            **{f"{k}_p99_ms": r["p99"] for k, r in results.items()},
            **ratios,
        },
    )
