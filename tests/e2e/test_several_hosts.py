"""Several hosts, for real, on one machine (load/hosts/): network namespaces
on a bridge, each with its own address, hostname, loopback and data dir.

    data      PostgreSQL (a private cluster), Redis, the S3 artifact store (moto)
    gateway-1 `esper gateway` (production settings, auth on)
    worker-1  a worker          worker-2  a worker
    client    this test's HTTP client, and a WebSocket follower process

Two runs go out at once and train on the two worker hosts. The worker host of
the long one (`restart_policy: resume`) is killed with SIGKILL once the run has
a checkpoint in the store; the run resumes on the other host from that
checkpoint (that host never had it on disk). A follower on the client host
holds the run's WebSocket from submission to the end: one connection, cursors
strictly increasing, no gap, and exactly the packets the history API stores.
"""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from load.hosts.cluster import Cluster, postgres_unavailable, unavailable_reason
from load.hosts.follow import cursor_key
from load.hosts.netns import namespaces

T = TypeVar("T")

LONG: dict[str, Any] = {
    "name": "long-resumable",
    "task": "digits",
    "epochs": 20,  # 900 steps: a few seconds each side of the kill
    "batch_size": 32,
    "device": "cpu",
    "seed": 3,
    "model": {"width": 64},
    "morphogenesis": {"enabled": False},
    "checkpoint_every": 50,
    "restart_policy": "resume",
}
SHORT: dict[str, Any] = {**LONG, "name": "short", "epochs": 3, "restart_policy": "fail"}


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    hosts = Cluster(tmp_path_factory.mktemp("hosts"), workers=2, gateways=1)
    try:
        yield hosts
    finally:
        print(hosts.logs())
        tag = hosts.net.tag
        hosts.close()
        assert not [ns for ns in namespaces() if ns.startswith(tag)]


def _worker_host(cluster: Cluster, run: dict[str, Any]) -> str:
    return cluster.hostnames()[run["worker_id"]]


def test_runs_spread_a_killed_hosts_run_resumes_elsewhere_followed_without_gap(
    cluster: Cluster, tmp_path: Path
) -> None:
    http = cluster.http()
    # PostgreSQL on the data host wherever its server binaries are installed.
    assert cluster.database == ("sqlite" if postgres_unavailable() else "postgres")
    # Each worker registered under its own host's name.
    assert sorted(cluster.hostnames().values()) == ["worker-1", "worker-2"]

    long_id = http.post("/api/v1/runs", json=LONG).json()["id"]
    short_id = http.post("/api/v1/runs", json=SHORT).json()["id"]
    follower = cluster.follow([long_id, short_id], tmp_path / "follow", timeout_s=120)

    def both_running() -> list[dict[str, Any]] | None:
        runs = [http.json(f"/api/v1/runs/{i}") for i in (long_id, short_id)]
        return runs if all(r["worker_id"] for r in runs) else None

    long_run, short_run = wait_for(both_running, 60, "both runs to be claimed")
    first_host = _worker_host(cluster, long_run)
    assert {first_host, _worker_host(cluster, short_run)} == {"worker-1", "worker-2"}

    # A checkpoint in the store, then the long run's host loses its worker.
    wait_for(
        lambda: http.json(f"/api/v1/runs/{long_id}/checkpoints"), 60, "a checkpoint"
    )
    assert http.json(f"/api/v1/runs/{long_id}")["state"] == "running"
    cluster.kill_worker(cluster.net[first_host])
    killed_at = time.monotonic()

    def ended(run_id: str) -> dict[str, Any] | None:
        run: dict[str, Any] = http.json(f"/api/v1/runs/{run_id}")
        return run if run["state"] in {"completed", "failed", "cancelled"} else None

    done = wait_for(lambda: ended(long_id), 90, "the long run to end")
    assert done["state"] == "completed", done
    assert (done["attempt"], done["restarts"]) == (2, 1)
    other = ({"worker-1", "worker-2"} - {first_host}).pop()
    assert _worker_host(cluster, done) == other
    short_done = wait_for(lambda: ended(short_id), 30, "the short run to end")
    assert short_done["state"] == "completed", short_done
    print(f"killed -> completed elsewhere in {time.monotonic() - killed_at:.1f} s")

    resumed = http.json(
        f"/api/v1/runs/{long_id}/telemetry", params={"names": "run.resumed"}
    )["items"]
    assert len(resumed) == 1
    attrs = resumed[0]["attrs"]
    assert attrs["attempt"] == 2 and attrs["from_step"] >= 50, attrs
    assert attrs["checkpoint_id"], attrs
    # The other host fetched that checkpoint from the store over the network:
    # the S3 server logged a GET of its file from the other host's address.
    fetch_line = (
        f"GET /esper/artifacts/runs/{long_id}/files/{attrs['checkpoint_id']}.pt"
    )
    s3_log = (cluster.logs_dir / "s3.log").read_text().splitlines()
    getters = {line.split()[0] for line in s3_log if fetch_line in line}
    assert getters == {cluster.net[other].address}, getters

    # The follower held each socket to the end: no reconnect, no gap, every
    # cursor once and in order, exactly the stored history.
    assert follower.wait(60) == 0
    for run_id in (long_id, short_id):
        out = tmp_path / "follow"
        summary = json.loads((out / f"{run_id}.summary.json").read_text())
        assert summary["ended"] and summary["close_code"] == 1000, summary
        assert summary["reconnects"] == 0 and summary["gaps"] == [], summary
        assert summary["out_of_order"] == 0, summary
        frames = [
            json.loads(line)
            for line in (out / f"{run_id}.frames.jsonl").read_text().splitlines()
        ]
        cursors = [f["cursor"] for f in frames]
        keys = [cursor_key(c) for c in cursors]
        assert all(a < b for a, b in zip(keys, keys[1:], strict=False))
        assert frames[-1]["name"] in {"run.state", "state"}
        assert frames[-1]["value"] == "completed"
        assert _stored_when_complete(cluster, run_id, len(cursors)) == cursors
    long_frames = (tmp_path / "follow" / f"{long_id}.frames.jsonl").read_text()
    assert '"run.resumed"' in long_frames  # the resume was seen live


def _stored_when_complete(cluster: Cluster, run_id: str, count: int) -> list[str]:
    """The run's stored cursors once the history has `count` of them (it trails
    the live stream by the persister's cycle)."""

    def stored() -> list[str] | None:
        cursors = cluster.stored_cursors(run_id)
        return cursors if len(cursors) >= count else None

    return wait_for(stored, 30, "the history to hold every packet")
