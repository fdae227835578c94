"""Checkpoints through real workers, the gateway, SQLite and the artifact
store (the default local directory, and the S3 server): many runs in one
database each list exactly their checkpoints that exist in the store, the
rows follow the store, downloads verify, and a rollback to every listed
checkpoint works, also when the worker's local copies are gone."""

import hashlib
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from tests.fixtures.gateway import sqlite_url
from tests.fixtures.s3 import StoreLocation
from tests.fixtures.stack import LiveStack
from workers.artifacts.checkpoints import checkpoints
from workers.artifacts.store import ArtifactStore

RUNS = 6
KEEP = 2
SHORT_RUN = {
    "task": "digits",
    "epochs": 2,
    "batch_size": 64,
    "device": "cpu",
    "morphogenesis": {"enabled": False},
    "checkpoint_every": 4,
    "checkpoint_keep": KEEP,
}


@pytest.fixture
def store_and_stack(
    artifact_store: StoreLocation, redis_url: str, tmp_path: Path
) -> Iterator[tuple[ArtifactStore, LiveStack]]:
    """Two workers and a gateway on one store. The local case sets nothing:
    the default store, `{ESPER_DATA_DIR}/artifacts`, shared by both sides."""
    local = artifact_store.url.startswith("/")
    env = {} if local else artifact_store.env()
    url = str(tmp_path / "artifacts") if local else artifact_store.url
    extra = cast(dict[str, Any], env)  # environment names, not LiveStack options
    stack = LiveStack(sqlite_url(tmp_path), redis_url, tmp_path, workers=2, **extra)
    try:
        yield ArtifactStore(url, artifact_store.options), stack
    finally:
        print(stack.logs()[-20000:])
        stack.stop()


def stored_ids(store: ArtifactStore, run_id: str) -> list[str]:
    return [m.checkpoint_id or "" for m in checkpoints(store, run_id)]


def listed_ids(stack: LiveStack, run_id: str) -> list[str]:
    response = stack.client.get(f"/api/v1/runs/{run_id}/checkpoints")
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()]


def row_ids(db: Path, run_id: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        query = "SELECT id FROM checkpoint WHERE run_id = ? ORDER BY step"
        return [row[0] for row in conn.execute(query, (run_id,))]


def eventually(check: Any, timeout: float = 20.0) -> None:
    """Checkpoint rows are applied by the gateway's bulk lane, a moment after
    the run's final state: wait for them."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not settled in time"
        time.sleep(0.2)


def test_many_runs_each_list_exactly_their_checkpoints_in_the_store(
    store_and_stack: tuple[ArtifactStore, LiveStack], tmp_path: Path
) -> None:
    store, stack = store_and_stack
    run_ids = []
    for seed in range(RUNS):
        response = stack.client.post("/api/v1/runs", json={**SHORT_RUN, "seed": seed})
        assert response.status_code == 201, response.text
        run_ids.append(response.json()["id"])
    for run_id in run_ids:
        stack.wait_for_run(run_id, {"completed"}, timeout=180)
    for run_id in run_ids:
        stored = stored_ids(store, run_id)
        # The same ids in every run (ckpt-<step>): each run keeps its own.
        assert KEEP <= len(stored) <= KEEP + 2, stored
        eventually(lambda r=run_id, s=stored: listed_ids(stack, r) == s)
        assert row_ids(tmp_path / "esper.db", run_id) == stored
    assert len({tuple(stored_ids(store, r)) for r in run_ids}) < RUNS  # ids repeat
    check_downloads(stack, store, run_ids[0])


def check_downloads(stack: LiveStack, store: ArtifactStore, run_id: str) -> None:
    base = f"/api/v1/runs/{run_id}/artifacts"
    listed = stack.client.get(base).json()
    assert {a["name"] for a in listed} == {m.name for m in store.manifests(run_id)}
    artifact = listed[-1]
    whole = stack.client.get(f"{base}/{artifact['name']}")
    assert whole.status_code == 200
    etag = whole.headers["etag"].strip('"')
    assert hashlib.sha256(whole.content).hexdigest() == etag == artifact["sha256"]
    assert len(whole.content) == artifact["bytes"]
    part = stack.client.get(
        f"{base}/{artifact['name']}", headers={"Range": "bytes=100-199"}
    )
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{artifact['bytes']}"
    past = stack.client.get(
        f"{base}/{artifact['name']}", headers={"Range": f"bytes={artifact['bytes']}-"}
    )
    assert past.status_code == 416
    assert past.json()["error"]["code"] == "range_not_satisfiable"
    same = stack.client.get(
        f"{base}/{artifact['name']}", headers={"If-None-Match": whole.headers["etag"]}
    )
    assert same.status_code == 304
    for url, code in (
        (f"{base}/ckpt-999999999.pt", "artifact_not_found"),
        (f"{base}/.manifest", "artifact_not_found"),
        (f"{base}/..%2F..%2Fsecrets", "not_found"),  # no such route
        (
            "/api/v1/runs/00000000-0000-0000-0000-000000000000/artifacts",
            "run_not_found",
        ),
    ):
        response = stack.client.get(url)
        assert response.status_code == 404 and response.json()["error"]["code"] == code


def command(stack: LiveStack, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = stack.client.post(
        f"/api/v1/runs/{run_id}/commands", params={"wait": 15}, json=body, timeout=30
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_rollback_to_every_listed_checkpoint_works_without_local_copies(
    store_and_stack: tuple[ArtifactStore, LiveStack], tmp_path: Path
) -> None:
    store, stack = store_and_stack
    spec = {**SHORT_RUN, "epochs": 1000, "checkpoint_every": 5, "checkpoint_keep": 3}
    run_id = stack.client.post("/api/v1/runs", json=spec).json()["id"]
    stack.wait_for_run(run_id, {"running"})
    eventually(lambda: len(listed_ids(stack, run_id)) >= 4, timeout=60)
    assert command(stack, run_id, {"type": "pause"})["state"] == "applied"
    stack.wait_for_run(run_id, {"paused"})
    eventually(lambda: listed_ids(stack, run_id) == stored_ids(store, run_id))
    listed = stack.client.get(f"/api/v1/runs/{run_id}/checkpoints").json()
    # The worker's local copies go: every rollback must fetch from the store.
    shutil.rmtree(tmp_path / "checkpoints" / run_id)
    for checkpoint in listed:
        body = {"type": "rollback", "checkpoint_id": checkpoint["id"]}
        acked = command(stack, run_id, body)
        assert acked["state"] == "applied", acked
        assert acked["result"]["restored_step"] == checkpoint["step"]
        assert acked["result"]["source"] == "disk"
    stack.client.post(f"/api/v1/runs/{run_id}/cancel")
    stack.wait_for_run(run_id, {"cancelled"})
