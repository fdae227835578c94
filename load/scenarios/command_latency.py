"""command-latency: commands through the API while a run trains, POST -> worker ack.

The ack time is the ledger's own (issued_at -> acked_at, both stamped by the
gateway on one clock), and the client's POST ?wait round trip is reported beside
it. The floor is a Redis PING round trip measured in the same run: a command
crosses Redis twice (relay, ack) plus the database writes.
"""

import argparse
import json
import time
from datetime import datetime
from typing import Any

import httpx
import redis

from api_schemas.bus import DATA_FIELD, EVENTS_STREAM, command_stream
from load.live_stack import LocalStack, add_auth_argument
from load.stats import print_table, summarize, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="the worker's and the run's")
    add_auth_argument(parser)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument(
        "--type",
        default="registry_reset",
        help="command type sent (applies at the next step boundary)",
    )


def redis_rtt_ms(url: str, samples: int) -> list[float]:
    client = redis.Redis.from_url(url)
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        client.ping()
        out.append((time.perf_counter() - started) * 1000)
    return out


def unix_s(stamp: str | None) -> float:
    """Unix seconds of an API or telemetry timestamp (ISO 8601); NaN for none."""
    return datetime.fromisoformat(stamp).timestamp() if stamp else float("nan")


def ledger_ack_ms(command: dict[str, Any]) -> float | None:
    if not command.get("acked_at"):
        return None
    return (unix_s(command["acked_at"]) - unix_s(command["issued_at"])) * 1000


def stream_ms(entry_id: str) -> float:
    """A Redis stream id starts with the XADD's own clock, in milliseconds."""
    return float(entry_id.split("-")[0])


def legs(
    url: str, run_id: str, ledger: dict[str, dict[str, Any]]
) -> dict[str, list[float]]:
    """Where each command's time went, from the entry ids of its two XADDs: the
    gateway's relay onto the run's command stream and the worker's ack on the
    events stream (millisecond resolution, one clock: one machine)."""
    client = redis.Redis.from_url(url, decode_responses=True)
    sent = {
        json.loads(f[DATA_FIELD])["id"]: stream_ms(i)
        for i, f in client.xrange(command_stream(run_id))
    }
    acked: dict[str, float] = {}
    for entry_id, fields in client.xrange(EVENTS_STREAM):
        event = json.loads(fields[DATA_FIELD])
        if event.get("type") == "command_ack":
            acked.setdefault(event["command_id"], stream_ms(entry_id))
    out: dict[str, list[float]] = {
        "commit + relay": [],
        "worker (read, step boundary, ack)": [],
        "ack -> ledger": [],
    }
    slowest = sorted(ledger, key=lambda c: -(ledger_ack_ms(ledger[c]) or 0))[:5]
    for command_id, row in ledger.items():
        if command_id not in sent or command_id not in acked:
            continue
        issued, done = (unix_s(row[key]) * 1000 for key in ("issued_at", "acked_at"))
        out["commit + relay"].append(sent[command_id] - issued)
        out["worker (read, step boundary, ack)"].append(
            acked[command_id] - sent[command_id]
        )
        out["ack -> ledger"].append(done - acked[command_id])
        if command_id in slowest:
            print(
                f"slow: ack {done - issued:.1f} ms = relay "
                f"{sent[command_id] - issued:.1f} + worker "
                f"{acked[command_id] - sent[command_id]:.0f} + ledger "
                f"{done - acked[command_id]:.1f}"
            )
    return out


def send_commands(
    client: httpx.Client,
    run_id: str,
    count: int,
    kind: str,
    ledger: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[float], list[float], int]:
    acks, round_trips, unacked = [], [], 0
    for _ in range(count):
        started = time.perf_counter()
        response = client.post(
            f"/api/v1/runs/{run_id}/commands?wait=5", json={"type": kind}
        )
        round_trips.append((time.perf_counter() - started) * 1000)
        body = response.json()
        ack = ledger_ack_ms(body)
        if response.status_code != 200 or ack is None:
            unacked += 1
            continue
        acks.append(ack)
        if ledger is not None:
            ledger[body["id"]] = body
    return acks, round_trips, unacked


def wait_training(client: httpx.Client, run_id: str, steps: int = 20) -> None:
    """`running` is reported before the engine has built its task and model;
    commands sent before the loop starts wait for it, which is not latency."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if client.get(f"/api/v1/runs/{run_id}").json()["step"] >= steps:
            return
        time.sleep(0.05)
    raise TimeoutError("the run never started stepping")


def run(args: argparse.Namespace) -> dict[str, Any]:
    count = 30 if args.quick else args.commands
    with (
        LocalStack(device=args.device, auth=args.auth) as stack,
        stack.client() as client,
    ):
        run_id = stack.submit(client, device=args.device)
        training = stack.wait_state(client, run_id, {"running"})
        wait_training(client, run_id)
        # Warm-up, not counted: the first command also pays for lazy imports and
        # first-use paths in the gateway and worker.
        send_commands(client, run_id, 3, args.type)
        floor = redis_rtt_ms(stack.redis_url(), 200)
        ledger: dict[str, dict[str, Any]] = {}
        acks, round_trips, unacked = send_commands(
            client, run_id, count, args.type, ledger
        )
        breakdown = legs(stack.redis_url(), run_id, ledger)
        step_ms = client.get(f"/api/v1/runs/{run_id}").json()["metrics"]["step_time_ms"]
        client.post(f"/api/v1/runs/{run_id}/cancel")
    rows = [
        {"what": f"{args.type} ack (ledger)", **summarize(acks)},
        {"what": "POST ?wait round trip", **summarize(round_trips)},
        *(
            {"what": f"  leg: {name}", **summarize(values)}
            for name, values in breakdown.items()
        ),
        {"what": "Redis PING (floor)", **summarize(floor)},
    ]
    print_table(
        f"command-latency: {count} commands to a training run "
        f"(state {training['state']}, step {step_ms:.2f} ms, "
        f"auth {'on' if args.auth else 'off'}); ms",
        rows,
        ["what", "n", "min", "p50", "p95", "p99", "mean"],
    )
    ack, rtt = summarize(acks), summarize(floor)
    print(f"unacked within 5 s: {unacked}")
    return summary(
        "command-latency",
        args.device,
        len(acks),
        {
            "ack_ms_p50": ack.get("p50"),
            "ack_ms_p99": ack.get("p99"),
            "redis_rtt_ms_p50": rtt.get("p50"),
            "post_wait_ms_p99": summarize(round_trips).get("p99"),
            "unacked": unacked,
            "step_ms": step_ms,
            "auth": args.auth,
            "ratio_ack_p50_to_redis_rtt": (ack.get("p50") or 0) / (rtt.get("p50") or 1),
        },
    )
