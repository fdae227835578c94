"""chaos: kill -9 workers and the gateway mid-run, repeatedly; count what got
stuck or lost and time the detection (../shared/design/BENCHMARKS.md).

Worker rounds: a run with `restart_policy: resume` trains and checkpoints
every CHECKPOINT_EVERY steps; a `pause` is sent and the worker holding the run
is killed with SIGKILL straight after (`esper up` starts a new one). The run
must go back to the queue with its next attempt (detection: kill -> requeued)
and train again from its latest good checkpoint in the artifact store
(requeue: kill -> running again, detection included); its `run.resumed` event
says how many steps were lost (goal: at most the checkpoint interval). The
command must reach a final state (applied before the kill, or expired
`worker_lost`).

Gateway rounds: a run trains; the newest telemetry cursor is noted; the
gateway is killed with SIGKILL (`esper up` restarts it). Once it answers, every
packet the worker wrote after the cursor (read from the Redis stream itself)
must come back from the history API, which is what a resuming client replays.

Redis rounds (load/scenarios/chaos_redis.py): the stack runs on a Redis
without persistence that is killed and started again empty mid-run; a client
resuming from before the restart must get every packet or a `telemetry.gap`
naming its range. `unreported_gaps`: packets neither replayed nor inside a gap
(Redis rounds) plus packets missing from the history (gateway rounds, whose
history has no gap to report them).
"""

import argparse
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from api_schemas.bus import telemetry_stream
from api_schemas.enums import TERMINAL_RUN_STATE_VALUES
from api_schemas.telemetry import cursor_key
from load.live_stack import LocalStack
from load.scenarios.chaos_redis import NoPersistRedis, restart_redis_round
from load.scenarios.command_latency import wait_training
from load.stats import print_table, summarize, summary

FINAL_COMMAND = {"applied", "rejected", "expired"}
STUCK_AFTER_S = 60.0  # a run not training again this long after its worker died
CHECKPOINT_EVERY = 50  # steps; the most a resume may lose


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=3, help="of each kind")


def poll(fetch: Any, done: Any, timeout: float, every: float = 0.05) -> Any:
    """`fetch()` until `done(value)`; the last value (done or not)."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(every)
        value = fetch()
    return value


def idle_workers(client: httpx.Client) -> int:
    return sum(w["state"] == "idle" for w in client.get("/api/v1/workers").json())


def kill_worker_round(stack: LocalStack, client: httpx.Client) -> dict[str, Any]:
    run_id = stack.submit(
        client,
        restart_policy="resume",
        max_restarts=10,
        checkpoint_every=CHECKPOINT_EVERY,
    )
    stack.wait_state(client, run_id, {"running"})
    wait_training(client, run_id)
    poll(lambda: client.get(f"/api/v1/runs/{run_id}/checkpoints").json(), bool, 30)
    pid = stack.worker_pid(client, run_id)
    command = client.post(
        f"/api/v1/runs/{run_id}/commands", json={"type": "pause"}
    ).json()
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    run = poll(
        lambda: client.get(f"/api/v1/runs/{run_id}").json(),
        lambda r: r["attempt"] >= 2 or r["state"] in TERMINAL_RUN_STATE_VALUES,
        STUCK_AFTER_S,
        every=0.1,
    )
    detect_s = time.monotonic() - killed
    run = poll(
        lambda: client.get(f"/api/v1/runs/{run_id}").json(),
        lambda r: r["attempt"] >= 2 and r["state"] == "running",
        STUCK_AFTER_S,
        every=0.1,
    )
    requeue_s = time.monotonic() - killed
    resumed = poll(lambda: _events(client, run_id, "run.resumed"), bool, 30)
    ledger = poll(
        lambda: client.get(f"/api/v1/commands/{command['id']}").json(),
        lambda c: c["state"] in FINAL_COMMAND,
        30,
    )
    client.post(f"/api/v1/runs/{run_id}/cancel")
    stack.wait_state(client, run_id, TERMINAL_RUN_STATE_VALUES)
    poll(lambda: idle_workers(client), lambda n: n >= stack.workers, 60, every=0.2)
    attrs = resumed[-1]["attrs"] if resumed else {}
    return {
        "stuck": run["state"] != "running" or run["attempt"] < 2,
        "attempt": run["attempt"],
        "detect_s": detect_s,
        "requeue_s": requeue_s,
        "from_step": attrs.get("from_step"),
        "steps_lost": attrs.get("steps_lost"),
        "command_lost": ledger["state"] not in FINAL_COMMAND,
        "command": f"{ledger['state']} ({ledger.get('reason') or '-'})",
    }


def _events(client: httpx.Client, run_id: str, name: str) -> list[dict[str, Any]]:
    page = client.get(
        f"/api/v1/runs/{run_id}/telemetry", params={"names": name, "limit": 100}
    ).json()
    return list(page["items"])


def history_ids(client: httpx.Client, run_id: str, after: str) -> list[str]:
    ids, cursor = [], after
    while True:
        page = client.get(
            f"/api/v1/runs/{run_id}/telemetry", params={"after": cursor, "limit": 5000}
        ).json()
        ids += [p["cursor"] for p in page["items"]]
        if not page["next_cursor"]:
            return ids
        cursor = page["next_cursor"]


def kill_gateway_round(
    stack: LocalStack, client: httpx.Client, bus: "redis.Redis[bytes]"
) -> dict[str, Any]:
    run_id = stack.submit(client)
    stack.wait_state(client, run_id, {"running"})
    wait_training(client, run_id)
    stream = telemetry_stream(run_id)
    before = bus.xrevrange(stream, count=1)[0][0].decode()
    os.kill(stack.gateway_pid(), signal.SIGKILL)
    killed = time.monotonic()
    poll(lambda: _answers(client), bool, 60, every=0.1)
    back_s = time.monotonic() - killed
    time.sleep(1.0)  # the worker keeps writing; take a target after the restart
    target = bus.xrevrange(stream, count=1)[0][0].decode()
    written = [i.decode() for i, _ in bus.xrange(stream, min=f"({before}", max=target)]
    seen: list[str] = poll(
        lambda: history_ids(client, run_id, before),
        lambda ids: bool(ids) and cursor_key(ids[-1]) >= cursor_key(target),
        30,
        every=0.5,
    )
    seen_set = set(seen)
    lost = sum(1 for i in written if i not in seen_set)
    client.post(f"/api/v1/runs/{run_id}/cancel")
    stack.wait_state(client, run_id, TERMINAL_RUN_STATE_VALUES)
    return {"lost": lost, "written": len(written), "back_s": back_s}


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def run(args: argparse.Namespace) -> dict[str, Any]:
    rounds = 1 if args.quick else args.rounds
    with tempfile.TemporaryDirectory(prefix="esper-chaos-redis-") as workdir:
        server = NoPersistRedis(Path(workdir))
        server.start()
        try:
            workers, gateways, restarts = _rounds(server, rounds)
        finally:
            server.stop()
    for w in workers:
        print(
            f"worker killed: run requeued after {w['detect_s']:.2f} s, training "
            f"again (attempt {w['attempt']}, from step {w['from_step']}, "
            f"{w['steps_lost']} steps lost) after {w['requeue_s']:.2f} s; its "
            f"command {w['command']}"
        )
    for g in gateways:
        print(
            f"gateway killed: back in {g['back_s']:.2f} s; {g['lost']} of "
            f"{g['written']} packets written meanwhile missing from the replay"
        )
    for r in restarts:
        print(
            f"Redis restarted empty: {r['missing']} of {r['written']} packets "
            f"written around it missing from a resume, {r['gaps']} gap frame(s), "
            f"{r['unreported']} missing outside every gap; telemetry flowing "
            f"again after {r['resumed_s']:.2f} s; the run then {r['state']}"
        )
    detect = [w["detect_s"] for w in workers]
    requeue = [w["requeue_s"] for w in workers]
    back = [g["back_s"] for g in gateways]
    print_table(
        f"chaos: {rounds} worker kills, {rounds} gateway kills, "
        f"{rounds} Redis restarts; s",
        [
            {
                "what": "worker kill -> its run requeued (detection)",
                **summarize(detect),
                "max": max(detect),
            },
            {
                "what": "worker kill -> training again (requeue)",
                **summarize(requeue),
                "max": max(requeue),
            },
            {
                "what": "gateway kill -> answering again",
                **summarize(back),
                "max": max(back),
            },
        ],
        ["what", "n", "min", "p50", "max"],
    )
    figures = {
        "runs_stuck": sum(w["stuck"] for w in workers)
        + sum(r["stuck"] for r in restarts),
        "commands_lost": sum(w["command_lost"] for w in workers),
        "packets_lost": sum(g["lost"] for g in gateways),
        "unreported_gaps": sum(g["lost"] for g in gateways)
        + sum(r["unreported"] for r in restarts),
        "redis_restart_packets_lost_reported": sum(r["missing"] for r in restarts),
        "detect_s_max": max(detect),
        "requeue_s_max": max(requeue),
        "steps_lost_max": max(int(w["steps_lost"] or 0) for w in workers),
        "checkpoint_every": CHECKPOINT_EVERY,
    }
    print(
        f"runs stuck {figures['runs_stuck']}, commands lost "
        f"{figures['commands_lost']}, packets lost {figures['packets_lost']}, "
        f"unreported gaps {figures['unreported_gaps']}; "
        f"requeue max {figures['requeue_s_max']:.2f} s (goal <= 15), steps lost "
        f"max {figures['steps_lost_max']} (goal <= {CHECKPOINT_EVERY})"
    )
    return summary("chaos", "cpu", 3 * rounds, figures)


def _rounds(
    server: NoPersistRedis, rounds: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Worker kills, gateway kills, then Redis restarts (last: after one, the
    stack runs on an emptied Redis)."""
    with (
        LocalStack(workers=1, env={"ESPER_REDIS_URL": server.url}) as stack,
        httpx.Client(base_url=stack.url, timeout=30) as client,
    ):
        bus = redis.Redis.from_url(stack.redis_url())
        workers = [kill_worker_round(stack, client) for _ in range(rounds)]
        gateways = [kill_gateway_round(stack, client, bus) for _ in range(rounds)]
        restarts = [restart_redis_round(stack, client, server) for _ in range(rounds)]
    return workers, gateways, restarts
