"""several-hosts: Esper on several hosts of one machine (load/hosts/), at a
larger size than tests/e2e/test_several_hosts.py.

A data host (PostgreSQL, Redis, the S3 store), G gateway hosts, W worker
hosts and a client host, each a network namespace. R runs (`restart_policy:
resume`, a few seconds to a few tens of seconds each) are submitted through
the gateways in turn; a follower on the client host holds every run's
WebSocket through a gateway other than the one it was submitted to (when
G > 1). Once runs train with a checkpoint in the store, K worker hosts (each
holding one) are killed with SIGKILL, one after the other; their runs must
resume on other hosts. Bounded by --timeout: what has not ended by then is
counted as stuck.

Figures: where each run ran (its worker hosts in order), runs per host; per
kill, from the arrival times of the frames on the client host: kill -> the
run's `run.state` queued frame (detection; over the worker TTL, its bound),
the wait in the queue for a free worker, kill -> `run.resumed`, kill -> the
first training packet after it, and the steps lost against the checkpoint
interval; per run, the packets followed against the packets stored (ratio
1.0 = complete), gaps, reconnects and cursors out of order.
"""

import argparse
import json
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from api_schemas.enums import TERMINAL_RUN_STATE_VALUES
from load.hosts.cluster import FAST_DETECTION, Cluster, unavailable_reason
from load.stats import print_table, summarize, summary

CHECKPOINT_EVERY = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=8, help="runs submitted")
    parser.add_argument("--workers", type=int, default=4, help="worker hosts")
    parser.add_argument("--gateways", type=int, default=2, help="gateway hosts")
    parser.add_argument("--kills", type=int, default=1, help="worker hosts killed")
    parser.add_argument(
        "--epochs", type=int, default=30, help="longest run (digits: 45 steps each)"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="whole run, s")
    parser.add_argument(
        "--keep", type=Path, help="keep the hosts' logs and follower output here"
    )


def spec(index: int, epochs: int) -> dict[str, Any]:
    return {
        "name": f"hosts-{index}",
        "task": "digits",
        "epochs": max(2, epochs - 4 * (index % 4)),
        "batch_size": 32,
        "device": "cpu",
        "seed": index,
        "model": {"width": 64},
        "morphogenesis": {"enabled": False},
        "checkpoint_every": CHECKPOINT_EVERY,
        "restart_policy": "resume",
        "max_restarts": 5,
        "labels": {"scenario": "several-hosts"},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        args.runs, args.workers, args.gateways, args.epochs = 4, 3, 2, 16
    reason = unavailable_reason()
    if reason:
        print(f"several-hosts: {reason}")
        return summary("several-hosts", "cpu", 0, {"skipped": reason})
    args.kills = max(0, min(args.kills, args.workers - 1))
    # SIGTERM (`timeout`, a service manager) tears the hosts down as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix="esper-hosts-") as workdir:
        tmp = args.keep or Path(workdir)
        started = time.monotonic()
        with Cluster(tmp, workers=args.workers, gateways=args.gateways) as cluster:
            up_s = time.monotonic() - started
            print(
                f"{len(cluster.net.hosts)} hosts up in {up_s:.1f} s "
                f"({cluster.database} on the data host)"
            )
            figures = _scenario(cluster, args, tmp)
            figures["startup_s"] = up_s
    return summary("several-hosts", "cpu", args.runs, figures)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _scenario(cluster: Cluster, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    deadline = time.monotonic() + args.timeout
    gateways = len(cluster.gateways)
    runs: list[str] = []
    for i in range(args.runs):
        made = cluster.http(i % gateways).post(
            "/api/v1/runs", json=spec(i, args.epochs)
        )
        made.raise_for_status()
        runs.append(made.json()["id"])
    # Each run followed through another gateway than the one it went to.
    followers = []
    for g in range(gateways):
        mine = [r for i, r in enumerate(runs) if (i + 1) % gateways == g]
        if mine:
            followers.append(
                cluster.follow(mine, tmp / "follow", gateway=g, timeout_s=args.timeout)
            )
    watch = Watch(cluster, runs)
    while time.monotonic() < deadline:
        watch.poll()
        if len(watch.kills) < args.kills:
            watch.kill_one()
        if watch.all_ended():
            break
        time.sleep(0.3)
    for follower in followers:
        follower.wait(max(1.0, deadline - time.monotonic() + 30))
    return _figures(cluster, runs, watch, tmp / "follow")


class Watch:
    """The runs as the client host polls them: where each trained, and the kills."""

    def __init__(self, cluster: Cluster, runs: list[str]) -> None:
        self.cluster = cluster
        self.http = cluster.http()
        self.hostnames: dict[str, str] = {}
        self.where: dict[str, list[str]] = {r: [] for r in runs}
        # Each change of (state, attempt, worker) a poll saw, for the summary.
        self.seen: dict[str, list[tuple[float, str, int, str | None]]] = {
            r: [] for r in runs
        }
        self.state: dict[str, dict[str, Any]] = {}
        self.kills: list[dict[str, Any]] = []

    def poll(self) -> None:
        params = {"label": "scenario=several-hosts", "limit": 500}
        page = self.http.json("/api/v1/runs", params=params)
        self.state = {r["id"]: r for r in page["items"]}
        for run_id, r in self.state.items():
            if r["worker_id"] and r["worker_id"] not in self.hostnames:
                self.hostnames = self.cluster.hostnames()
            host = self.hostnames.get(r["worker_id"] or "")
            if host and r["state"] == "running" and self.where[run_id][-1:] != [host]:
                self.where[run_id].append(host)
            now = (r["state"], r["attempt"], r["worker_id"])
            if [t[1:] for t in self.seen[run_id][-1:]] != [now]:
                self.seen[run_id].append((time.time(), *now))

    def all_ended(self) -> bool:
        return all(r["state"] in TERMINAL_RUN_STATE_VALUES for r in self.state.values())

    def kill_one(self) -> None:
        """SIGKILL the worker of a host that trains a run (its first attempt)
        with a checkpoint in the store, if there is one."""
        killed = {k["host"] for k in self.kills}
        for run_id, r in self.state.items():
            host = self.hostnames.get(r["worker_id"] or "")
            if r["state"] != "running" or not host or host in killed:
                continue
            if r["attempt"] > 1:
                continue
            if self.http.json(f"/api/v1/runs/{run_id}/checkpoints"):
                self.cluster.kill_worker(self.cluster.net[host], signal.SIGKILL)
                self.kills.append({"run": run_id, "host": host, "at": time.time()})
                print(f"killed {host}'s worker (holding run {run_id[:8]})")
                return


def _frames(out: Path, run_id: str) -> list[dict[str, Any]]:
    path = out / f"{run_id}.frames.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _figures(
    cluster: Cluster,
    runs: list[str],
    watch: "Watch",
    out: Path,
) -> dict[str, Any]:
    state, where, kills = watch.state, watch.where, watch.kills
    ttl = float(FAST_DETECTION["ESPER_WORKER_TTL_S"])
    rows = []
    for run_id in runs:
        r = state.get(run_id, {})
        frames = _frames(out, run_id)
        followed = [f["cursor"] for f in frames]
        stored = _stored(cluster, run_id, len(followed))
        path = out / f"{run_id}.summary.json"
        follow = json.loads(path.read_text()) if path.exists() else {}
        rows.append(
            {
                "run": run_id[:8],
                "epochs": r.get("spec", {}).get("epochs"),
                "state": r.get("state"),
                "attempts": r.get("attempt"),
                "hosts": " -> ".join(where[run_id]) or "-",
                "followed": len(followed),
                "stored": len(stored),
                "missing": len(set(stored) - set(followed)),
                "extra": len(set(followed) - set(stored)),
                "ratio": len(followed) / len(stored) if stored else float("nan"),
                "gaps": len(follow.get("gaps", [])),
                "reconnects": follow.get("reconnects"),
                "out_of_order": follow.get("out_of_order"),
            }
        )
    resumes = [_resume(cluster, kill, out, ttl) for kill in kills]
    per_host: dict[str, int] = {}
    for hosts in where.values():
        for host in set(hosts):
            per_host[host] = per_host.get(host, 0) + 1
    print_table(
        f"several-hosts: {len(runs)} runs, {len(cluster.workers)} worker hosts, "
        f"{len(cluster.gateways)} gateway hosts, {len(kills)} killed",
        rows,
        [
            "run",
            "epochs",
            "state",
            "attempts",
            "hosts",
            "followed",
            "stored",
            "missing",
            "extra",
            "ratio",
            "gaps",
            "reconnects",
            "out_of_order",
        ],
    )
    print_table(
        "worker hosts: runs trained (an attempt counts on each host)",
        [{"host": h, "runs": n} for h, n in sorted(per_host.items())],
        ["host", "runs"],
    )
    if resumes:
        print_table(
            f"resume after a kill, as the client host saw it, s (worker TTL "
            f"{ttl:g} s; checkpoint every {CHECKPOINT_EVERY} steps; waited: "
            "queued until a worker was free)",
            resumes,
            [
                "run",
                "host",
                "on",
                "requeued_s",
                "detect_over_ttl",
                "waited_s",
                "resumed_s",
                "training_s",
                "from_step",
                "steps_lost",
            ],
        )
    completed = sum(r["state"] == "completed" for r in rows)
    resumed_s = [k["resumed_s"] for k in resumes if k.get("resumed")]
    requeued_s = [k["requeued_s"] for k in resumes if k.get("resumed")]
    figures = {
        "runs": len(runs),
        "completed": completed,
        "stuck": len(runs) - sum(r["state"] in TERMINAL_RUN_STATE_VALUES for r in rows),
        "hosts_used": len(per_host),
        "runs_per_host": per_host,
        "kills": len(kills),
        "resumed_elsewhere": sum(
            1 for k in resumes if k.get("resumed") and k.get("on") != k["host"]
        ),
        "requeued_s": summarize(requeued_s),
        "resume_s": summarize(resumed_s),
        "packets_followed": sum(r["followed"] for r in rows),
        "packets_stored": sum(r["stored"] for r in rows),
        "packets_missing": sum(r["missing"] for r in rows),
        "gaps": sum(r["gaps"] for r in rows),
        "reconnects": sum(r["reconnects"] or 0 for r in rows),
        "out_of_order": sum(r["out_of_order"] or 0 for r in rows),
        "runs_detail": rows,
        "resumes": resumes,
        "seen": watch.seen,
    }
    print(
        f"\n{completed}/{len(runs)} completed on {len(per_host)} hosts; "
        f"{figures['resumed_elsewhere']}/{len(kills)} killed runs resumed elsewhere; "
        f"packets followed/stored {figures['packets_followed']}/"
        f"{figures['packets_stored']}, {figures['packets_missing']} missing, "
        f"{figures['gaps']} gaps, {figures['reconnects']} reconnects"
    )
    return figures


def _resume(
    cluster: Cluster, kill: dict[str, Any], out: Path, ttl: float
) -> dict[str, Any]:
    """One kill's resume, from the frames the client host received (their
    arrival times): kill -> `run.state` queued (detection), -> assigned (the
    wait for a free worker), -> `run.resumed`, -> the first training packet."""
    run_id = kill["run"]
    row: dict[str, Any] = {"run": run_id[:8], "host": kill["host"], "resumed": False}
    after = [f for f in _frames(out, run_id) if f["t"] >= kill["at"]]

    def first(name: str, value: Any = None) -> dict[str, Any] | None:
        return next(
            (f for f in after if f["name"] == name and value in (None, f["value"])),
            None,
        )

    queued, resumed = first("run.state", "queued"), first("run.resumed")
    if queued is None or resumed is None:
        return row
    assigned = next(
        (f for f in after if f["name"] == "run.state" and f["value"] == "assigned"),
        resumed,
    )
    training = next(
        (f for f in after if f["kind"] == "metric" and f["t"] >= resumed["t"]), None
    )
    page = cluster.http().json(
        f"/api/v1/runs/{run_id}/telemetry", params={"names": "run.resumed"}
    )
    attrs = page["items"][-1]["attrs"] if page["items"] else {}
    row.update(
        resumed=True,
        on=_final_host(cluster, run_id),
        requeued_s=queued["t"] - kill["at"],
        detect_over_ttl=(queued["t"] - kill["at"]) / ttl,
        waited_s=assigned["t"] - queued["t"],
        resumed_s=resumed["t"] - kill["at"],
        training_s=training["t"] - kill["at"] if training else float("nan"),
        from_step=attrs.get("from_step"),
        steps_lost=attrs.get("steps_lost"),
    )
    return row


def _final_host(cluster: Cluster, run_id: str) -> str:
    """The host of the worker that holds (or last held) the run, by the API."""
    worker = cluster.http().json(f"/api/v1/runs/{run_id}")["worker_id"]
    return cluster.hostnames().get(worker or "", f"? ({worker})")


def _stored(
    cluster: Cluster, run_id: str, at_least: int, wait_s: float = 20
) -> list[str]:
    """The run's stored cursors, once the history caught up with the follower
    (it trails the live stream by the persister's cycle) or after `wait_s`."""
    deadline = time.monotonic() + wait_s
    while True:
        stored = cluster.stored_cursors(run_id)
        if len(stored) >= at_least or time.monotonic() > deadline:
            return stored
        time.sleep(0.5)
