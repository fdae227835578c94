"""halt-latency: `emergency_halt` while training, POST -> last optimizer step.

Each repeat submits a run, waits until it trains, sends the halt, and reads back
(a) the worker's own count of optimizer steps taken after the halt arrived and
(b) the time from the POST to the last `tolaria.step.latency_ms` packet (emitted
at the end of each optimizer step), from the run's telemetry stream.

The floor, measured in the same run while each run trains: GET /healthz round
trips through the same client and gateway (no database, no bus). On a host whose
plain HTTP round trip already has a 10 ms p99, "one step + 10 ms" is out of
reach whatever the command path does; the floor row says whether that is so.
"""

import argparse
import json
import time
from typing import Any

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

from api_schemas.bus import telemetry_stream
from load.live_stack import LocalStack, add_auth_argument
from load.scenarios.command_latency import unix_s, wait_training
from load.stats import print_table, summarize, summary

# Where a halt's time went, on the gateway's clock (one machine): the request
# before the ledger row, the commit and relay, and the worker's part (reader
# wake-up to the flag, and the step in flight finishing). A leg can be negative
# by a step when the halt lands just after a step ended.
LEGS = (
    ("POST -> on the wire (the client's httpx)", "to_wire_ms"),
    ("on the wire -> issued_at (HTTP, auth, run)", "wire_to_issued_ms"),
    ("issued_at -> dispatched (commit, XADD)", "to_dispatched_ms"),
    ("dispatched -> last step (worker)", "to_last_step_ms"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="the worker's and the run's")
    add_auth_argument(parser)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)


def last_step_time(client: redis.Redis, run_id: str) -> tuple[float, int]:
    """Unix time and step of the last optimizer step's packet."""
    for _id, fields in client.xrevrange(telemetry_stream(run_id), count=5000):
        packet = json.loads(fields[b"data"])
        if packet["name"] == "tolaria.step.latency_ms":
            return unix_s(packet["ts"]), int(packet["step"])
    return float("nan"), -1


FLOOR_PROBES = 10  # per halt, 5 ms apart, before the halt
LAG = "esper_gateway_loop_lag_seconds"


def loop_lag_buckets(client: httpx.Client) -> dict[str, float]:
    """The gateway's loop-lag histogram, cumulative counts by `le`."""
    text = client.get("/metrics").text
    return {
        sample.labels["le"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == LAG
        for sample in family.samples
        if sample.name == f"{LAG}_bucket"
    }


def loop_lag_line(before: dict[str, float], after: dict[str, float]) -> str:
    ticks = after["+Inf"] - before["+Inf"]
    over = {le: ticks - (after[le] - before[le]) for le in ("0.005", "0.01", "0.02")}
    return (
        f"gateway event loop, 50 ms timer: {ticks:.0f} ticks, late by over 5 ms "
        f"{over['0.005']:.0f}, over 10 ms {over['0.01']:.0f}, "
        f"over 20 ms {over['0.02']:.0f}"
    )


def http_floor_ms(client: httpx.Client) -> list[float]:
    out = []
    for _ in range(FLOOR_PROBES):
        started = time.perf_counter()
        client.get("/healthz").raise_for_status()
        out.append((time.perf_counter() - started) * 1000)
        time.sleep(0.005)
    return out


def one_halt(
    stack: LocalStack,
    client: httpx.Client,
    bus: redis.Redis,
    batch: int,
    floor: list[float],
) -> dict[str, float]:
    run_id = stack.submit(client, batch_size=batch, device=stack.device)
    stack.wait_state(client, run_id, {"running"})
    wait_training(client, run_id)
    floor += http_floor_ms(client)
    sent = time.time()
    wire: list[float] = []

    def on_trace(event: str, _info: object) -> None:  # httpcore's trace hook
        if event == "http11.send_request_headers.started":
            wire.append(time.time())

    ledger = client.post(
        f"/api/v1/runs/{run_id}/commands?wait=10",
        json={"type": "emergency_halt", "reason": "benchmark"},
        extensions={"trace": on_trace},
    ).json()
    run = stack.wait_state(client, run_id, {"halted", "failed"}, timeout=30)
    last_ts, _step = last_step_time(bus, run_id)
    issued, dispatched = (unix_s(ledger.get(k)) for k in ("issued_at", "dispatched_at"))
    on_wire = wire[0] if wire else sent
    return {
        "sent_unix": sent,
        "halt_ms": max(0.0, (last_ts - sent) * 1000),
        "to_wire_ms": (on_wire - sent) * 1000,
        "wire_to_issued_ms": (issued - on_wire) * 1000,
        "to_dispatched_ms": (dispatched - issued) * 1000,
        "to_last_step_ms": (last_ts - dispatched) * 1000,
        "steps_after": float(run["result"].get("steps_after_halt", -1)),
        "step_ms": float(run["metrics"].get("step_time_ms") or 0.0),
        "halted": float(run["state"] == "halted"),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    repeats = 5 if args.quick else args.repeats
    with (
        LocalStack(device=args.device, auth=args.auth) as stack,
        stack.client() as client,
    ):
        bus = redis.Redis.from_url(stack.redis_url())
        floor: list[float] = []
        lag_before = loop_lag_buckets(client)
        results = [
            one_halt(stack, client, bus, args.batch_size, floor) for _ in range(repeats)
        ]
        lag = loop_lag_line(lag_before, loop_lag_buckets(client))
    # The send time lets a slow halt be matched against `load.stall_probe`'s gaps.
    for r in sorted(results, key=lambda r: -r["halt_ms"])[:5]:
        print(
            f"slow: sent {r['sent_unix']:.4f}, halt {r['halt_ms']:.1f} ms = "
            + " + ".join(f"{r[key]:.1f}" for _, key in LEGS)
        )
    halt = summarize([r["halt_ms"] for r in results])
    steps = [r["steps_after"] for r in results]
    step = summarize([r["step_ms"] for r in results])
    http_floor = summarize(floor)
    print_table(
        f"halt-latency: {repeats} halts, digits MLP batch {args.batch_size}"
        f" on {args.device}, auth {'on' if args.auth else 'off'}; ms",
        [
            {"what": "POST -> last optimizer step", **halt},
            *(
                {"what": f"  leg: {name}", **summarize([r[key] for r in results])}
                for name, key in LEGS
            ),
            {"what": "step time", **step},
            {"what": "GET /healthz round trip, training (floor)", **http_floor},
        ],
        ["what", "n", "min", "p50", "p95", "p99", "mean"],
    )
    halted = sum(r["halted"] for r in results)
    print(
        f"optimizer steps after arrival: max {max(steps):.0f}, "
        f"all {sorted(int(s) for s in steps)}; halted {halted:.0f}/{repeats}"
    )
    print(lag)
    return summary(
        "halt-latency",
        args.device,
        repeats,
        {
            "halt_ms_p50": halt["p50"],
            "halt_ms_p99": halt["p99"],
            "max_steps_after_halt": max(steps),
            "step_ms_p50": step["p50"],
            "goal_ms": step["p50"] + 10,
            "http_floor_ms_p99": http_floor["p99"],
            "auth": args.auth,
        },
    )
