"""emergency-lane: a burst of critical packets during heavy bulk telemetry.

The worker's real publisher (workers/telemetry.py, with its emergency lane)
runs in this process and emits bulk metric packets at `--rate` for
`--seconds`; halfway through, `--burst` critical packets go out over
`--burst-s`, against a bucket of `--bucket` a minute, so some take the lane
and the rest are demoted to the bulk path. One gateway (uvicorn subprocess,
SQLite: the persister writes every packet) relays and fans out; a client
process watches `/ws/fleet` and the run's `/ws/runs/{id}` and times every
frame against the emit time each packet carries (`attrs.t`, one host, one
clock). Printed, all from this one run: delivery p50/p99 of the lane's
critical packets (on /ws/fleet and on the run's socket), of the demoted ones
(the bulk path: what every critical packet got before the lane) and of the
bulk packets emitted during the burst and over the whole run; then the
counters: lane, demoted, dropped (worker), relayed (gateway), frames the
gateway dropped for slow clients, and whether the run's socket got every
packet once, in the stream's order.
"""

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import time
from typing import Any

import httpx
import redis

from api_schemas.bus import range_reply, telemetry_stream
from load.scenarios.ws_fanout import Gateway
from load.stats import percentile, print_table
from workers.telemetry import TelemetryPublisher

CRITICAL = "kasmina.isolation.violation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=int, default=20_000, help="bulk packets/s")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--burst", type=int, default=200, help="critical packets")
    parser.add_argument("--burst-s", type=float, default=1.0)
    parser.add_argument(
        "--bucket", type=int, default=120, help="ESPER_EMERGENCY_MAX_PER_MIN"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("ESPER_REDIS_URL", "redis://127.0.0.1:6379/14"),
    )


# --- the clients' process -------------------------------------------------


async def _watch(url: str, out: list[Any], done: asyncio.Event) -> None:
    """(arrival, cursor, name, emit time, critical index) per frame, until the
    server closes (the run's socket: 1000 after the final state) or `done`."""
    from websockets.asyncio.client import connect  # noqa: PLC0415
    from websockets.exceptions import ConnectionClosed  # noqa: PLC0415

    async with connect(url, compression=None, max_size=None) as ws:
        out.append("ready")
        while not done.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            now = time.time()
            frame = json.loads(message)
            attrs = frame.get("attrs") or {}
            out.append((now, frame.get("cursor"), frame.get("name"),
                        attrs.get("t"), attrs.get("index")))  # fmt: skip


async def _clients(port: int, run_id: str, ready: Any, results: Any) -> None:
    base = f"ws://127.0.0.1:{port}"
    run_out: list[Any] = []
    fleet_out: list[Any] = []
    done = asyncio.Event()
    run_task = asyncio.create_task(_watch(f"{base}/ws/runs/{run_id}", run_out, done))
    fleet_task = asyncio.create_task(_watch(f"{base}/ws/fleet", fleet_out, done))
    while not (run_out and fleet_out):
        await asyncio.sleep(0.05)
    ready.set()
    await asyncio.wait_for(run_task, 600)
    await asyncio.sleep(1.0)  # the fleet's last relays
    done.set()
    await fleet_task
    results.put((run_out[1:], fleet_out[1:]))


def _client_process(port: int, run_id: str, ready: Any, results: Any) -> None:
    asyncio.run(_clients(port, run_id, ready, results))


# --- the producer ---------------------------------------------------------


def _produce(args: argparse.Namespace, run_id: str) -> TelemetryPublisher:
    """Bulk at `rate` in 1 ms slices; the burst spread over `burst_s` from the
    middle of the run; then the final state. Returns the closed publisher."""
    client = redis.Redis.from_url(args.redis_url, decode_responses=True)
    pub = TelemetryPublisher(
        client, run_id, maxlen=1_000_000, emergency_max_per_min=args.bucket
    )
    pub.start()
    start = time.perf_counter()
    burst_at = args.seconds / 2
    sent = critical = 0
    while (elapsed := time.perf_counter() - start) < args.seconds:
        for step in range(sent, int(args.rate * elapsed)):
            pub.emit(_packet(step, "tolaria.training.loss", "info"))
        sent = max(sent, int(args.rate * elapsed))
        due = int(args.burst * (elapsed - burst_at) / args.burst_s) + 1
        while critical < min(args.burst, due) and elapsed >= burst_at:
            pub.emit(_packet(sent, CRITICAL, "critical", index=critical))
            critical += 1
        time.sleep(0.001)
    pub.emit(
        {
            "kind": "state",
            "name": "run.state",
            "value": "completed",
            "step": sent,
            "epoch": 0,
            "level": "info",
            "attrs": {"t": time.time()},
        }  # fmt: skip
    )
    pub.close(120)
    return pub


def _packet(step: int, name: str, level: str, **attrs: Any) -> dict[str, Any]:
    return {"kind": "metric" if level == "info" else "event", "name": name,
            "value": 0.5, "step": step, "epoch": 0, "level": level,
            "attrs": {"t": time.time(), **attrs}}  # fmt: skip


# --- the report -----------------------------------------------------------


def _row(what: str, delays: list[float]) -> dict[str, Any]:
    return {
        "packets": what,
        "n": len(delays),
        "p50_ms": percentile(delays, 50),
        "p99_ms": percentile(delays, 99),
        "max_ms": max(delays) if delays else float("nan"),
    }


def _metric(url: str, name: str) -> float:
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return float("nan")


def _report(
    run_frames: list[Any], fleet_frames: list[Any], burst: tuple[float, float]
) -> tuple[list[dict[str, Any]], set[int]]:
    """Delay rows, and the indices of the critical packets the fleet got."""

    def ms(frame: Any) -> float:
        return float((frame[0] - frame[3]) * 1000)

    fleet_crit = [f for f in fleet_frames if f[2] == CRITICAL]
    on_fleet = {int(f[4]) for f in fleet_crit}
    run_crit = [f for f in run_frames if f[2] == CRITICAL]
    lane = [ms(f) for f in run_crit if f[4] in on_fleet]
    demoted = [ms(f) for f in run_crit if f[4] not in on_fleet]
    bulk = [f for f in run_frames if f[2] == "tolaria.training.loss"]
    during = [f for f in bulk if burst[0] <= f[3] <= burst[1]]
    rows = [
        _row("critical, lane -> /ws/fleet", [ms(f) for f in fleet_crit]),
        _row("critical, lane -> /ws/runs", lane),
        _row("critical, demoted -> /ws/runs", demoted),
        _row("bulk emitted during the burst", [ms(f) for f in during]),
        _row("bulk, whole run", [ms(f) for f in bulk]),
    ]  # fmt: skip
    return rows, on_fleet


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        args.rate, args.seconds, args.burst = 10_000, 4.0, 80
        args.bucket = min(args.bucket, 60)
    redis.Redis.from_url(args.redis_url).flushdb()
    os.environ["ESPER_WS_QUEUE_FRAMES"] = str(4 * args.rate * int(args.seconds + 1))
    gw = Gateway(args.redis_url)
    gw.start()
    try:
        run_id = gw.live_run()
        ctx = mp.get_context("spawn")
        ready, results = ctx.Event(), ctx.Queue()
        proc = ctx.Process(
            target=_client_process, args=(gw.port, run_id, ready, results)
        )
        proc.start()
        if not ready.wait(60):
            raise RuntimeError("clients did not connect")
        time.sleep(0.5)
        t0 = time.time()
        pub = _produce(args, run_id)
        run_frames, fleet_frames = results.get(timeout=600)
        proc.join(30)
        burst = (t0 + args.seconds / 2, t0 + args.seconds / 2 + args.burst_s)
        relayed = _metric(gw.url, "esper_emergency_relayed_total")
        ws_dropped = _metric(gw.url, "esper_telemetry_packets_dropped_total")
        stream = redis.Redis.from_url(args.redis_url)
        entries = range_reply(stream.xrange(telemetry_stream(run_id)), bytes)
        ids = [entry_id.decode() for entry_id, _ in entries]
    finally:
        gw.stop()
    rows, on_fleet = _report(run_frames, fleet_frames, burst)
    cursors = [f[1] for f in run_frames]
    counters = {
        "bulk_emitted": int(args.rate * args.seconds),
        "critical_emitted": args.burst,
        "lane": pub.lane.sent,
        "demoted": pub.lane.demoted,
        "dropped_worker": pub.dropped + pub.lane.dropped,
        "relayed_gateway": relayed,
        "ws_frames_dropped": ws_dropped,
        "critical_on_fleet": len(on_fleet),
        "run_ws_in_stream_order": cursors == ids,
    }
    print_table(
        f"emergency-lane ({args.rate} bulk packets/s for {args.seconds:g} s, "
        f"{args.burst} critical over {args.burst_s:g} s, bucket {args.bucket}/min; "
        f"{os.cpu_count()} CPUs)",
        rows,
        ["packets", "n", "p50_ms", "p99_ms", "max_ms"],
    )
    print_table("counters", [counters], list(counters))
    options = {k: v for k, v in vars(args).items() if k != "json"}
    return {"rows": rows, "counters": counters, "args": options}
