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
from tests.fixtures.stack import LiveStack, WorkerProcess, short_ttl_stack
from workers.artifacts.checkpoints import fetch, find
from workers.artifacts.store import ArtifactStore
from workers.engine import checkpoints as ckpt
from workers.engine.hooks import Hooks
from workers.engine.trainer import Trainer

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
    with short_ttl_stack(
        module_redis_url,
        tmp,
        workers=0,
        ESPER_ARTIFACT_URL=str(tmp / "store"),  # the one store every host shares
        ESPER_CPU_THREADS="1",  # deterministic sums, as the reference below
    ) as live:
        yield live


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


def _started(stack: LiveStack, tmp: Path) -> tuple[WorkerProcess, str]:
    """A resume run training on its first worker, two checkpoints in the store."""
    first = stack.start_worker(worker_id="host-a", ESPER_DATA_DIR=str(tmp / "host-a"))
    run_id = str(stack.client.post("/api/v1/runs", json=SPEC).json()["id"])
    _wait(
        lambda: len(stack.client.get(f"/api/v1/runs/{run_id}/checkpoints").json()) >= 2,
        60,
        "two checkpoints in the store",
    )
    return first, run_id


def _ends_as_uninterrupted(stack: LiveStack, run_id: str, tmp: Path) -> dict[str, Any]:
    """The run completes at attempt 2, its steps continuing from the checkpoint
    it resumed from, with the parameters of an uninterrupted continuation."""
    done = stack.wait_for_run(run_id, {"completed", "failed"}, timeout=90)
    assert done["state"] == "completed", done
    assert (done["attempt"], done["restarts"]) == (2, 1)
    stack.wait_for_history(run_id)  # the history below trails the state
    attrs = _telemetry(stack, run_id, "run.resumed")[-1]["attrs"]
    assert attrs["attempt"] == 2 and attrs["steps_lost"] >= 0
    assert attrs["from_step"] > 0 and attrs["checkpoint_id"]
    _steps_continue_from_the_checkpoint(stack, run_id, attrs["from_step"])
    reference = _continued_from(stack, run_id, attrs["checkpoint_id"], tmp)
    final = _final_parameters(stack, run_id, tmp)
    assert reference.keys() == final.keys()
    for name, tensor in reference.items():
        torch.testing.assert_close(final[name], tensor, atol=1e-6, rtol=0)
    return done


def test_a_killed_workers_run_resumes_on_another_host(
    stack: LiveStack, tmp_path: Path
) -> None:
    """kill -9 while a second worker, on "another host", is up."""
    first, run_id = _started(stack, tmp_path)
    second = stack.start_worker(
        worker_id="host-b", ESPER_DATA_DIR=str(tmp_path / "host-b")
    )
    stack.kill_worker(first, signal.SIGKILL)
    done = _ends_as_uninterrupted(stack, run_id, tmp_path)
    assert done["worker_id"] == "host-b" and second.alive()


def test_a_revived_stale_worker_stands_down_and_changes_nothing(
    stack: LiveStack, tmp_path: Path
) -> None:
    """SIGSTOP stands in for a partition or a hang: the worker is presumed
    lost, its run resumes elsewhere, and then it comes back."""
    first, run_id = _started(stack, tmp_path)
    first.send(signal.SIGSTOP)  # no heartbeat, no progress: lost to the gateway
    second = stack.start_worker(
        worker_id="host-b", ESPER_DATA_DIR=str(tmp_path / "host-b")
    )
    _wait(lambda: _telemetry(stack, run_id, "run.resumed"), 40, "run.resumed")
    first.send(signal.SIGCONT)  # back from its partition: it must stand down
    done = _ends_as_uninterrupted(stack, run_id, tmp_path)
    assert done["worker_id"] == "host-b"
    _wait(lambda: "standing down" in first.log(), 10, "the stale worker to stand down")
    assert first.alive() and second.alive()  # it stood down; it did not crash


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
