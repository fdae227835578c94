"""A `resume` run survives its worker: the worker stops answering mid-run (a
SIGSTOP stands in for a partition or a hang), the reaper requeues the run, and
a second worker on "another host" (its own data dir; it shares only Redis, the
database and the artifact store) resumes it from the latest good checkpoint in
the store. The first worker, revived, finds itself fenced off and stands down.
The resumed run ends with the parameters an uninterrupted continuation from
that checkpoint reaches."""

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from api_schemas.runs import RunCreate
from tests.fixtures.gateway import sqlite_url
from tests.fixtures.stack import LiveStack
from workers.artifacts.checkpoints import fetch, find
from workers.artifacts.store import ArtifactStore
from workers.engine import checkpoints as ckpt
from workers.engine.hooks import Hooks
from workers.engine.trainer import Trainer

TTL_S = 4.0
SPEC: dict[str, Any] = {
    "task": "digits",
    "epochs": 30,
    "batch_size": 32,
    "device": "cpu",
    "seed": 7,
    "model": {"width": 64},
    "morphogenesis": {"enabled": False},
    "checkpoint_every": 15,
    "checkpoint_keep": 1000,  # the one resumed from stays, for the reference
    "restart_policy": "resume",
}


@pytest.fixture
def stack(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    tmp = tmp_path_factory.mktemp("resume")
    live = LiveStack(
        sqlite_url(tmp),
        module_redis_url,
        tmp,
        workers=0,
        ESPER_WORKER_TTL_S=str(TTL_S),
        ESPER_REAPER_INTERVAL_S="0.5",
        ESPER_ARTIFACT_URL=str(tmp / "store"),  # the one store every host shares
        ESPER_CPU_THREADS="1",  # deterministic sums, as the reference below
    )
    yield live
    live.stop()


def _telemetry(stack: LiveStack, run_id: str, name: str) -> list[dict[str, Any]]:
    page = stack.client.get(
        f"/api/v1/runs/{run_id}/telemetry", params={"names": name, "limit": 5000}
    ).json()
    return list(page["items"])


def _wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_lost_worker_run_resumes_on_another_host_and_ends_as_uninterrupted(
    stack: LiveStack, tmp_path: Path
) -> None:
    first = stack.start_worker(ESPER_DATA_DIR=str(tmp_path / "host-a"))
    run = stack.client.post("/api/v1/runs", json=SPEC).json()
    run_id = run["id"]
    _wait(
        lambda: len(stack.client.get(f"/api/v1/runs/{run_id}/checkpoints").json()) >= 2,
        60,
        "two checkpoints in the store",
    )
    first.send(signal.SIGSTOP)  # no heartbeat, no progress: lost to the gateway
    second = stack.start_worker(ESPER_DATA_DIR=str(tmp_path / "host-b"))
    resumed = _wait(
        lambda: _telemetry(stack, run_id, "run.resumed"), 40, "run.resumed"
    )[0]
    first.send(signal.SIGCONT)  # back from its partition: it must stand down
    done = stack.wait_for_run(run_id, {"completed", "failed"}, timeout=120)
    assert done["state"] == "completed", done
    assert (done["attempt"], done["restarts"]) == (2, 1)
    attrs = resumed["attrs"]
    assert attrs["attempt"] == 2 and attrs["steps_lost"] >= 0
    assert attrs["from_step"] > 0 and attrs["checkpoint_id"]
    _steps_continue_from_the_checkpoint(stack, run_id, attrs["from_step"])
    assert first.alive()  # it stood down; it did not crash
    assert "standing down" in first.log()
    assert second.alive()

    reference = _continued_from(stack, run_id, attrs["checkpoint_id"], tmp_path)
    final = _final_parameters(stack, run_id, tmp_path)
    assert reference.keys() == final.keys()
    for name, tensor in reference.items():
        torch.testing.assert_close(final[name], tensor, atol=1e-6, rtol=0)


def _steps_continue_from_the_checkpoint(
    stack: LiveStack, run_id: str, from_step: int
) -> None:
    """After run.resumed, the steps count on from the checkpoint's, one by one."""
    packets = _telemetry(stack, run_id, "tolaria.training.loss")
    last_resume = max(i for i, p in enumerate(packets) if p["step"] == from_step + 1)
    after = [p["step"] for p in packets[last_resume:]]
    assert after == list(range(from_step + 1, from_step + 1 + len(after)))


def _store(stack: LiveStack) -> ArtifactStore:
    return ArtifactStore(stack.extra_env["ESPER_ARTIFACT_URL"])


def _continued_from(
    stack: LiveStack, run_id: str, checkpoint_id: str, tmp: Path
) -> dict[str, torch.Tensor]:
    """The same spec, resumed in this process from the same checkpoint and
    never interrupted: its final parameters."""
    store = _store(stack)
    manifest = find(store, run_id, checkpoint_id)
    assert manifest is not None
    folder = fetch(store, manifest, tmp / "reference-start")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(
            RunCreate.model_validate(SPEC),
            Hooks(),
            run_id=run_id,
            checkpoint_dir=tmp / "reference",
            resume_from=str(folder),
        )
        outcome = trainer.run()
    finally:
        torch.set_num_threads(threads)
    assert outcome.state == "completed", outcome.error
    return {k: v.detach().clone() for k, v in trainer.parts.model.state_dict().items()}


def _final_parameters(
    stack: LiveStack, run_id: str, tmp: Path
) -> dict[str, torch.Tensor]:
    """The run's last checkpoint in the store (its final state)."""
    store = _store(stack)
    manifest = find(store, run_id, None)
    assert manifest is not None
    folder = fetch(store, manifest, tmp / "final")
    return dict(ckpt.load_checkpoint(str(folder))["model"])
