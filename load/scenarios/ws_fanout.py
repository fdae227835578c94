"""ws-fanout: K WebSocket clients x M packets/s through Redis and one gateway.

A synthetic worker XADDs packets (each carrying its send time) to a run's
stream; the gateway (uvicorn subprocess, one process, so figures are "per
gateway core") fans them out; the clients run in a separate process. Three
phases:
- capacity: a rate the gateway cannot keep up with; deliveries/s, and
  deliveries per second of gateway CPU time (the per-core figure, which holds
  even where the clients' process, not the gateway, is what saturates);
- no stall / with stall: the same sustainable load (`--rate`, well below
  capacity) without and with one deliberately stalled client (a raw socket
  that never reads); the others' p99 latency is compared between the two.
  Latencies at saturation measure queueing, not the stalled client's effect,
  so they are not compared there.
Also: an ingest figure, the packets/s a worker-style batched producer can XADD.
"""

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import socket
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

from app.cli.bundled_redis import free_port
from app.server import gateway_argv
from load.stats import percentile, print_table, summary

ROOT = Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--rate",
        type=int,
        default=400,
        help="packets/s in the stall comparison (sustainable)",
    )
    parser.add_argument(
        "--capacity-rate",
        type=int,
        default=4000,
        help="packets/s in the capacity phase (beyond capacity)",
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("ESPER_REDIS_URL", "redis://127.0.0.1:6379/14"),
    )


class Gateway:
    """uvicorn app.main:create_app, one process, SQLite in a temp dir."""

    def __init__(self, redis_url: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="esper-ws-fanout-"))
        self.db = self.tmp / "esper.db"
        self.port = free_port()
        self.redis_url = redis_url
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from app.migrate import upgrade  # noqa: PLC0415

        upgrade(f"sqlite+aiosqlite:///{self.db}")
        env = {
            **os.environ,
            "ESPER_DATABASE_URL": f"sqlite+aiosqlite:///{self.db}",
            "ESPER_REDIS_URL": self.redis_url,
            "ESPER_LOCAL_MODE": "1",
            "ESPER_AUTH": "off",
            "ESPER_LEYLINE_SECRET": "bench",
            "ESPER_DATA_DIR": str(self.tmp),
        }
        self.proc = subprocess.Popen(
            gateway_argv("127.0.0.1", self.port, "--log-level", "warning"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(self.tmp / "gateway.log").open("wb"),
        )
        for _ in range(200):
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError((self.tmp / "gateway.log").read_text())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def live_run(self) -> str:
        run_id: str = httpx.post(
            self.url + "/api/v1/runs", json={"task": "digits"}
        ).json()["id"]
        with sqlite3.connect(self.db) as db:  # as a worker's state event would
            db.execute("UPDATE run SET state='running' WHERE id=?", (run_id,))
        return run_id

    def cpu_s(self) -> float:
        assert self.proc is not None
        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)

    def rss_mb(self) -> float:
        assert self.proc is not None
        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:  # see the report: slow shutdown
                self.proc.kill()
                self.proc.wait(5)


def produce(redis_url: str, run_id: str, rate: int, seconds: float) -> int:
    """Worker-style producer: a pipeline of XADDs every 10 ms, paced to `rate`."""
    client = redis.Redis.from_url(redis_url)
    stream, sent, start = f"esper:telemetry:{run_id}", 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(rate * elapsed) - sent
        if due > 0:
            pipe = client.pipeline(transaction=False)
            for step in range(sent, sent + due):
                pipe.xadd(
                    stream,
                    {"data": _packet(run_id, step)},
                    maxlen=100_000,
                    approximate=True,
                )
            pipe.execute()
            sent += due
        time.sleep(0.01)
    client.xadd(
        stream,
        {
            "data": json.dumps(
                {
                    "kind": "state",
                    "name": "run.state",
                    "value": "completed",
                    "step": sent,
                    "epoch": 0,
                    "level": "info",
                    "attrs": {},
                    "run_id": run_id,
                }
            )
        },
    )
    return sent


def _packet(run_id: str, step: int) -> str:
    return json.dumps(
        {
            "kind": "metric",
            "name": "tolaria.training.loss",
            "value": 0.5,
            "step": step,
            "epoch": 0,
            "level": "info",
            "attrs": {"t": time.time()},
            "run_id": run_id,
        }
    )


def ingest_rate(redis_url: str, seconds: float = 2.0, batch: int = 500) -> float:
    """Packets/s one batched producer can XADD (no consumers)."""
    client = redis.Redis.from_url(redis_url)
    sent, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        pipe = client.pipeline(transaction=False)
        for step in range(sent, sent + batch):
            pipe.xadd(
                "esper:telemetry:ingest-bench",
                {"data": _packet("x", step)},
                maxlen=100_000,
                approximate=True,
            )
        pipe.execute()
        sent += batch
    rate = sent / (time.perf_counter() - start)
    client.delete("esper:telemetry:ingest-bench")
    return rate


# --- the clients' process -------------------------------------------------


async def _client(url: str, out: dict[str, Any]) -> None:
    from websockets.asyncio.client import connect  # noqa: PLC0415

    expected, lat = 0, out["lat"]
    async with connect(url, compression=None, max_size=None) as ws:
        out["ready"] = True
        async for message in ws:
            frame = json.loads(message)
            if frame["kind"] != "metric":
                break
            now = time.time()
            if frame["step"] != expected:
                out["gaps"] += abs(frame["step"] - expected)
            expected = frame["step"] + 1
            out["n"] += 1
            if out["n"] % 5 == 0:
                lat.append((now - frame["attrs"]["t"]) * 1000)
    out["end"] = time.time()


async def _stalled(port: int, path: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    return sock  # never read again


async def _clients(
    port: int, run_id: str, k: int, stall: bool, ready: Any, results: Any
) -> None:
    path = f"/ws/runs/{run_id}"
    outs = [{"n": 0, "gaps": 0, "lat": [], "ready": False} for _ in range(k)]
    tasks = [
        asyncio.create_task(_client(f"ws://127.0.0.1:{port}{path}", o)) for o in outs
    ]
    stalled = await _stalled(port, path) if stall else None
    while not all(o["ready"] for o in outs):
        await asyncio.sleep(0.05)
    ready.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 300)
    if stalled:
        stalled.close()
    results.put(outs)


def _client_process(
    port: int, run_id: str, k: int, stall: bool, ready: Any, results: Any
) -> None:
    asyncio.run(_clients(port, run_id, k, stall, ready, results))


# --- phases ---------------------------------------------------------------


def phase(
    gw: Gateway, args: argparse.Namespace, stall: bool, rate: int, name: str
) -> dict[str, Any]:
    run_id = gw.live_run()
    ctx = mp.get_context("spawn")
    ready, results = ctx.Event(), ctx.Queue()
    proc = ctx.Process(
        target=_client_process,
        args=(gw.port, run_id, args.clients, stall, ready, results),
    )
    proc.start()
    if not ready.wait(60):
        raise RuntimeError("clients did not connect")
    time.sleep(0.5)
    start, cpu = time.time(), gw.cpu_s()
    sent = produce(args.redis_url, run_id, rate, args.seconds)
    outs = results.get(timeout=300)
    cpu = gw.cpu_s() - cpu
    proc.join(30)
    lat = [x for o in outs for x in o["lat"]]
    delivered = sum(o["n"] for o in outs)
    return {
        "phase": name,
        "clients": args.clients,
        "rate": rate,
        "sent": sent,
        "delivered": delivered,
        "deliveries_per_s": delivered / (max(o["end"] for o in outs) - start),
        "per_gw_cpu_s": delivered / max(cpu, 1e-9),
        "lat_p50_ms": percentile(lat, 50),
        "lat_p99_ms": percentile(lat, 99),
        "gaps": sum(o["gaps"] for o in outs) + sum(sent - o["n"] for o in outs),
        "rss_mb": gw.rss_mb(),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        args.clients, args.seconds = min(args.clients, 20), 4.0
    redis.Redis.from_url(args.redis_url).flushdb()
    gw = Gateway(args.redis_url)
    gw.start()
    try:
        rows = [
            phase(gw, args, False, args.capacity_rate, "capacity"),
            phase(gw, args, False, args.rate, "no stall"),
            phase(gw, args, True, args.rate, "with stall"),
        ]
        ingest = ingest_rate(args.redis_url, 1.0 if args.quick else 3.0)
    finally:
        gw.stop()
    print_table(
        f"ws-fanout ({args.clients} clients, {args.seconds:g} s a phase, "
        f"1 gateway process, {os.cpu_count()} CPUs)",
        rows,
        [
            "phase",
            "clients",
            "rate",
            "sent",
            "delivered",
            "deliveries_per_s",
            "per_gw_cpu_s",
            "lat_p50_ms",
            "lat_p99_ms",
            "gaps",
            "rss_mb",
        ],
    )
    capacity, calm, stalled = rows
    ratio = stalled["lat_p99_ms"] / calm["lat_p99_ms"]
    print(
        f"\nothers' p99 with/without stall: {ratio:.3g}x (goal <= 1.2); "
        f"ingest (batched XADD, 1 producer): {ingest:,.0f} packets/s"
    )
    print(
        "per_gw_cpu_s: deliveries per second of gateway CPU time (goal >= 50k "
        "per gateway core)"
    )
    return summary(
        "ws-fanout",
        "cpu",
        sum(r["delivered"] for r in rows),
        {
            "deliveries_per_s": capacity["deliveries_per_s"],
            "deliveries_per_gateway_cpu_s": capacity["per_gw_cpu_s"],
            "latency_ms_p50": calm["lat_p50_ms"],
            "latency_ms_p99": calm["lat_p99_ms"],
            "gaps": sum(r["gaps"] for r in rows),
            "others_p99_ratio_with_stall": ratio,
            "gateway_rss_mb": max(r["rss_mb"] for r in rows),
            "ingest_packets_per_s": ingest,
        },
    )
