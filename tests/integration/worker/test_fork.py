"""Continue or fork a run (`resume_from` in the spec), with real processes: a
finished run's last checkpoint in the store starts a new run, which trains its
own epochs with its own learning rate from the first run's model."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.fixtures.gateway import sqlite_url
from tests.fixtures.stack import LiveStack
from workers.artifacts.checkpoints import fetch, find
from workers.artifacts.store import ArtifactStore
from workers.engine import checkpoints as ckpt

SPEC: dict[str, Any] = {
    "task": "digits",
    "epochs": 2,
    "batch_size": 64,
    "device": "cpu",
    "model": {"width": 32},
    "morphogenesis": {"enabled": False},
}


@pytest.fixture
def stack(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    tmp = tmp_path_factory.mktemp("fork")
    live = LiveStack(
        sqlite_url(tmp), module_redis_url, tmp, ESPER_ARTIFACT_URL=str(tmp / "store")
    )
    yield live
    live.stop()


def test_a_fork_starts_from_the_source_runs_checkpoint(
    stack: LiveStack, tmp_path: Path
) -> None:
    source = stack.client.post("/api/v1/runs", json=SPEC).json()
    done = stack.wait_for_run(source["id"], {"completed", "failed"})
    assert done["state"] == "completed", done
    fork_spec = {
        **SPEC,
        "epochs": 1,
        "learning_rate": 0.001,
        "labels": {"forked": "yes"},
        "resume_from": {"run_id": source["id"]},
    }
    response = stack.client.post("/api/v1/runs", json=fork_spec)
    assert response.status_code == 201, response.text
    fork = stack.wait_for_run(response.json()["id"], {"completed", "failed"})
    assert fork["state"] == "completed", fork
    assert fork["result"]["epochs"] == 1  # its own epochs, counted from 0
    attrs = _event(stack, fork["id"], "run.forked")["attrs"]
    assert attrs["from_run"] == source["id"]
    assert attrs["from_step"] == done["step"]  # the source's last checkpoint

    store = ArtifactStore(stack.extra_env["ESPER_ARTIFACT_URL"])
    started = _model(store, source["id"], attrs["checkpoint_id"], tmp_path / "a")
    ended = _model(store, fork["id"], None, tmp_path / "b")
    assert started.keys() == ended.keys()
    assert any(not torch.equal(started[k], ended[k]) for k in started)  # it trained

    refused = stack.client.post(
        "/api/v1/runs",
        json={**fork_spec, "task": "spirals", "model": {"width": 32}},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "resume_mismatch"


def _event(stack: LiveStack, run_id: str, name: str) -> dict[str, Any]:
    """The run's first `name` event, once the history holds it."""
    deadline = time.monotonic() + 15
    while True:
        items = stack.client.get(
            f"/api/v1/runs/{run_id}/telemetry", params={"names": name}
        ).json()["items"]
        if items or time.monotonic() > deadline:
            assert items, f"no {name} event for {run_id}"
            return dict(items[0])
        time.sleep(0.2)


def _model(
    store: ArtifactStore, run_id: str, checkpoint_id: str | None, root: Path
) -> dict[str, torch.Tensor]:
    manifest = find(store, run_id, checkpoint_id)
    assert manifest is not None
    return dict(ckpt.load_checkpoint(str(fetch(store, manifest, root)))["model"])
