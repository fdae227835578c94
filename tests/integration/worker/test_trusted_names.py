"""A worker runs only what it serves (SECURITY.md): an assignment published
straight to the bus, past the gateway, naming an import path the deployment did
not allow fails its run, and the module is never imported; a plug-in installed
as an entry point is reported at registration and runs."""

from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import SpawnWorker
from tests.integration.worker.busio import TINY, Client, assign, wait_for, wait_state

# Imported, this module leaves a file behind: the proof that it ran.
PROBE = """
import os, pathlib
pathlib.Path(os.environ["PROBE_MARK"]).write_text("imported")
def factory(opts):
    raise SystemExit("never called")
"""
ENTRY_POINTS = """
[esper.tasks]
probe-task = workers.engine.tasks:spirals_task

[esper.policies]
probe-policy = workers.engine.policy.heuristic:HeuristicPolicy
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A directory on the worker's PYTHONPATH: the probe module and a tiny
    installed distribution whose entry points name a task and a policy."""
    root = tmp_path / "site"
    dist = root / "esper_probe_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: esper-probe-plugin\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    (root / "esper_probe.py").write_text(PROBE)
    return root


def registration(bus: Client, worker_id: str) -> dict[str, Any]:
    return wait_for(
        bus,
        lambda e: e["type"] == "worker" and e["worker_id"] == worker_id,
        timeout=30,
        what=f"registration of {worker_id}",
    )


def test_a_worker_refuses_what_it_does_not_serve_without_importing_it(
    bus: Client, spawn_worker: SpawnWorker, site: Path, tmp_path: Path
) -> None:
    mark = tmp_path / "imported"
    spawn_worker(
        worker_id="w-strict",
        ESPER_ALLOW_IMPORT_PATHS="",
        PYTHONPATH=str(site),
        PROBE_MARK=str(mark),
    )
    caps = registration(bus, "w-strict")["capabilities"]
    assert "probe-task" in caps["tasks"] and caps["import_paths"] == []
    hostile: list[dict[str, Any]] = [
        {"task": "esper_probe:factory"},
        {"task": "this:x"},
        {"task": "builtins:print"},
        {"morphogenesis": {"policy": "os:abort"}},
        {"morphogenesis": {"policy": "signal:pause"}},
    ]
    for spec in hostile:
        run_id = assign(bus, {**TINY, **spec})
        failed = wait_state(bus, run_id, "failed", timeout=60)
        assert "does not allow" in failed["error"], failed
    assert not mark.exists(), "the worker imported a module it does not serve"
    # Still alive and serving: a plug-in task and policy by entry point.
    plugin = {"task": "probe-task", "morphogenesis": {"policy": "probe-policy"}}
    wait_state(bus, assign(bus, {**TINY, **plugin}), "completed", timeout=60)
