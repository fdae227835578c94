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

from api_schemas.bus import EMERGENCY_STREAM, range_reply, telemetry_stream
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


async def _watch(url: str, ready: Any, stop: Any) -> list[Any]:
    """(arrival, cursor, name, emit time, critical index) per frame, until the
    server closes (the run's socket: 1000 after the final state) or `stop`."""
    from websockets.asyncio.client import connect  # noqa: PLC0415
    from websockets.exceptions import ConnectionClosed  # noqa: PLC0415

    out: list[Any] = []
    async with connect(url, compression=None, max_size=None) as ws:
        ready.set()
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            except ConnectionClosed:
                break
            now = time.time()
            frame = json.loads(message)
            attrs = frame.get("attrs") or {}
            out.append((now, frame.get("cursor"), frame.get("name"),
                        attrs.get("t"), attrs.get("index")))  # fmt: skip
    return out


def _client_process(url: str, ready: Any, stop: Any, results: Any) -> None:
    """One socket per process: a flooded run socket must not delay the
    fleet socket's reads (and so its timings) in a shared event loop."""
    results.put(asyncio.run(_watch(url, ready, stop)))


class Watchers:
    def __init__(self, port: int, run_id: str) -> None:
        ctx = mp.get_context("spawn")
        base = f"ws://127.0.0.1:{port}"
        self.stop = ctx.Event()
        self.ready = [ctx.Event(), ctx.Event()]
        self.results = [ctx.Queue(), ctx.Queue()]
        urls = [f"{base}/ws/runs/{run_id}", f"{base}/ws/fleet"]
        self.procs = [
            ctx.Process(target=_client_process, args=(url, ready, self.stop, out))
            for url, ready, out in zip(urls, self.ready, self.results, strict=True)
        ]
        for proc in self.procs:
            proc.start()
        if not all(ready.wait(60) for ready in self.ready):
            raise RuntimeError("clients did not connect")

    def collect(self) -> tuple[list[Any], list[Any]]:
        """The run's frames (after its close), then the fleet's."""
        run_frames = self.results[0].get(timeout=600)
        time.sleep(1.0)  # the fleet's last relays
        self.stop.set()
        fleet_frames = self.results[1].get(timeout=60)
        for proc in self.procs:
            proc.join(30)
        return run_frames, fleet_frames


# --- the producer ---------------------------------------------------------


def _produce(
    args: argparse.Namespace, run_id: str
) -> tuple[TelemetryPublisher, int, int]:
    """Bulk at `rate` in 1 ms slices; the burst spread over `burst_s` from the
    middle of the run; then the final state. Returns the closed publisher and
    the bulk and critical packets emitted."""
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
    return pub, sent, critical


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


def _cursor_s(cursor: str) -> float:
    return int(cursor.split("-")[0]) / 1000


def _legs(
    run_frames: list[Any], fleet_frames: list[Any], lane_ids: dict[int, str]
) -> list[dict[str, Any]]:
    """Where the time went, from the stream ids' times (Redis's clock, in ms):
    emit -> written to Redis -> (lane: relayed to the fleet stream) -> socket."""
    legs: dict[str, list[float]] = {
        "lane: emit -> esper:emergency": [],
        "lane: esper:emergency -> fleet stream": [],
        "lane: fleet stream -> /ws/fleet": [],
        "bulk: emit -> run stream": [],
        "bulk: run stream -> /ws/runs": [],
    }
    for at, cursor, name, t, index in fleet_frames:
        if name == CRITICAL and index in lane_ids:
            written = _cursor_s(lane_ids[index])
            legs["lane: emit -> esper:emergency"].append((written - t) * 1000)
            relayed = _cursor_s(cursor)
            legs["lane: esper:emergency -> fleet stream"].append(
                (relayed - written) * 1000
            )
            legs["lane: fleet stream -> /ws/fleet"].append((at - relayed) * 1000)
    for at, cursor, name, t, _index in run_frames:
        if name == "tolaria.training.loss":
            written = _cursor_s(cursor)
            legs["bulk: emit -> run stream"].append((written - t) * 1000)
            legs["bulk: run stream -> /ws/runs"].append((at - written) * 1000)
    return [_row(leg, delays) for leg, delays in legs.items()]


def _lane_ids(client: redis.Redis) -> dict[int, str]:
    """Critical index -> its entry id on esper:emergency."""
    found: dict[int, str] = {}
    for entry_id, fields in range_reply(client.xrange(EMERGENCY_STREAM), bytes):
        packet = json.loads(fields[b"data"])
        found[int(packet["attrs"]["index"])] = entry_id.decode()
    return found


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
        watchers = Watchers(gw.port, run_id)
        time.sleep(0.5)
        t0 = time.time()
        load_before = os.getloadavg()[0]
        pub, bulk_sent, critical_sent = _produce(args, run_id)
        run_frames, fleet_frames = watchers.collect()
        burst = (t0 + args.seconds / 2, t0 + args.seconds / 2 + args.burst_s)
        relayed = _metric(gw.url, "esper_emergency_relayed_total")
        ws_dropped = _metric(gw.url, "esper_telemetry_packets_dropped_total")
        lag = "esper_gateway_loop_lag_seconds"
        lag_mean_ms = _metric(gw.url, lag + "_sum") / _metric(gw.url, lag + "_count")
        lag_mean_ms *= 1000
        lag_over_50ms = 1 - _metric(gw.url, lag + '_bucket{le="0.05"}') / _metric(
            gw.url, lag + "_count"
        )
        stream = redis.Redis.from_url(args.redis_url)
        entries = range_reply(stream.xrange(telemetry_stream(run_id)), bytes)
        ids = [entry_id.decode() for entry_id, _ in entries]
        lane_ids = _lane_ids(stream)
    finally:
        gw.stop()
    rows, on_fleet = _report(run_frames, fleet_frames, burst)
    cursors = [f[1] for f in run_frames]
    counters = {
        "bulk_emitted": bulk_sent,
        "bulk_on_run_ws": sum(1 for f in run_frames if f[2] == "tolaria.training.loss"),
        "critical_emitted": critical_sent,
        "lane": pub.lane.sent,
        "demoted": pub.lane.demoted,
        "dropped_worker": pub.dropped + pub.lane.dropped,
        "relayed_gateway": relayed,
        "ws_frames_dropped": ws_dropped,
        "gateway_loop_lag_mean_ms": lag_mean_ms,
        "loop_lag_over_50ms": lag_over_50ms,
        "critical_on_fleet": len(on_fleet),
        "run_ws_in_stream_order": cursors == ids,
    }
    print_table(
        f"emergency-lane ({args.rate} bulk packets/s for {args.seconds:g} s, "
        f"{args.burst} critical over {args.burst_s:g} s, bucket {args.bucket}/min; "
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} before)",
        rows,
        ["packets", "n", "p50_ms", "p99_ms", "max_ms"],
    )
    legs = _legs(run_frames, fleet_frames, lane_ids)
    print_table(
        "legs (stream ids: ms resolution)",
        legs,
        ["packets", "n", "p50_ms", "p99_ms", "max_ms"],
    )
    print_table("counters", [counters], list(counters))
    options = {k: v for k, v in vars(args).items() if k != "json"}
    return {"rows": rows, "legs": legs, "counters": counters, "args": options}
