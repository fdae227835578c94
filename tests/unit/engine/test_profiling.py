"""The profiler on command (workers/engine/profiling.py): its state machine on
its own, then inside a real training loop, and a failed export that leaves the
run's outcome alone."""

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.unit.engine.helpers import Script, run, spec
from workers import metrics
from workers.engine.hooks import ArtifactFile
from workers.engine.profiling import (
    EXPORT_FAILED,
    EXPORTED,
    PREFIX,
    STARTED,
    Phase,
    Profiler,
)
from workers.engine.telemetry import Telemetry
from workers.run_artifacts import PROFILE_PREFIX, PROFILER_EXPORT_FAILED, profile_lost


class Recorder:
    def __init__(self, tmp: Path, fail: bool = False) -> None:
        self.packets: list[dict[str, Any]] = []
        self.files: list[ArtifactFile] = []
        self.fail = fail
        self.profiler = Profiler(Telemetry(self.packets.append), self.take, tmp)

    def take(self, file: ArtifactFile) -> None:
        if self.fail:
            raise OSError("the store is read-only")
        self.files.append(file)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [p["attrs"] for p in self.packets if p["name"] == name]


def phase(profiler: Profiler) -> Phase:
    """Read through a call: mypy would keep an earlier assert's narrowing."""
    return profiler.state.phase


def work() -> None:
    """A step's worth of ops for the profiler to see."""
    torch.randn(16, 16).matmul(torch.randn(16, 16)).relu().sum()


def trace(path: str) -> dict[str, Any]:
    with gzip.open(path, "rt") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def step_marks(data: dict[str, Any]) -> list[str]:
    names = (e.get("name", "") for e in data["traceEvents"])
    return [n for n in names if n.startswith("ProfilerStep#")]


def test_arm_record_export_and_one_at_a_time(tmp_path: Path) -> None:
    r = Recorder(tmp_path)
    p = r.profiler
    result = p.request(3, step=10, cuda=False)
    assert result["from_step"] == 11 and result["to_step"] == 13
    assert result["artifact"].startswith(PREFIX + "000000011-")
    assert result["artifact"].endswith(".json.gz")
    assert phase(p) is Phase.armed and not r.events(STARTED)
    with pytest.raises(ValueError, match="already armed"):
        p.request(5, step=10, cuda=False)
    p.tick(10)  # the boundary before step 11: recording starts
    assert phase(p) is Phase.recording
    assert r.events(STARTED) == [
        {"artifact": result["artifact"], "steps": 3, "from_step": 11, "cuda": False}
    ]
    with pytest.raises(ValueError, match="already recording"):
        p.request(5, step=10, cuda=False)
    for step in (11, 12):
        work()
        p.tick(step)
        assert phase(p) is Phase.recording
    work()
    p.tick(13)  # the third step done: stop and export
    assert phase(p) is Phase.idle
    (exported,) = r.events(EXPORTED)
    assert exported["artifact"] == result["artifact"] and exported["steps"] == 3
    assert (exported["from_step"], exported["to_step"]) == (11, 13)
    assert exported["partial"] is False
    (file,) = r.files
    assert (file.name, file.kind, file.step) == (result["artifact"], "report", 13)
    assert exported["bytes"] == Path(file.path).stat().st_size > 0
    data = trace(file.path)
    assert step_marks(data) == ["ProfilerStep#11", "ProfilerStep#12", "ProfilerStep#13"]
    assert any(e.get("name") == "aten::mm" for e in data["traceEvents"])
    assert not list(tmp_path.glob(".tmp-*"))  # no temporary file left behind
    # Idle again: the next request is taken.
    assert p.request(1, step=13, cuda=False)["from_step"] == 14


def test_steps_out_of_range_are_refused(tmp_path: Path) -> None:
    p = Recorder(tmp_path).profiler
    for steps in (0, 501):
        with pytest.raises(ValueError, match="1..500"):
            p.request(steps, step=0, cuda=False)
    assert phase(p) is Phase.idle


def test_the_runs_end_exports_what_was_recorded(tmp_path: Path) -> None:
    r = Recorder(tmp_path)
    r.profiler.request(50, step=0, cuda=False)
    r.profiler.tick(0)
    work()
    r.profiler.tick(1)
    work()
    r.profiler.close(1)  # the run fails inside step 2 (1 step done)
    (exported,) = r.events(EXPORTED)
    assert exported["partial"] is True and exported["steps"] == 1
    assert exported["to_step"] == 1
    assert step_marks(trace(r.files[0].path)) == ["ProfilerStep#1", "ProfilerStep#2"]
    # Armed but never started: the ack named an artifact that will not come.
    r.profiler.request(5, step=2, cuda=False)
    r.profiler.close(2)
    (failed,) = r.events(EXPORT_FAILED)
    assert failed["stage"] == "start" and "before the recording" in failed["reason"]
    assert phase(r.profiler) is Phase.idle


def test_a_failed_export_is_a_warning_and_leaves_no_profiler_running(
    tmp_path: Path,
) -> None:
    r = Recorder(tmp_path, fail=True)
    artifact = r.profiler.request(1, step=0, cuda=False)["artifact"]
    r.profiler.tick(0)
    work()
    r.profiler.tick(1)
    (failed,) = r.events(EXPORT_FAILED)
    assert failed["artifact"] == artifact and failed["stage"] == "export"
    assert "read-only" in failed["reason"]
    warning = [p for p in r.packets if p["name"] == EXPORT_FAILED][0]
    assert warning["level"] == "warning"
    assert phase(r.profiler) is Phase.idle and not r.events(EXPORTED)
    # torch's profiler was stopped: a new recording starts and exports.
    r.fail = False
    r.profiler.request(1, step=1, cuda=False)
    r.profiler.tick(1)
    work()
    r.profiler.tick(2)
    assert len(r.events(EXPORTED)) == 1 and len(r.files) == 1


def test_profile_command_in_a_training_run(tmp_path: Path) -> None:
    script = Script()
    first = script.at(2, "profile", steps=3)
    second = script.at(3, "profile", steps=3)
    bad = script.at(3, "profile", steps="many")
    t, outcome = run(script, spec(epochs=1), tmp_path)
    assert outcome.state == "completed", outcome.error
    state, reason, result = script.ack_for(first)
    assert state == "applied" and reason is None
    assert (result["from_step"], result["to_step"], result["steps"]) == (3, 5, 3)
    state, reason, _ = script.ack_for(second)
    assert state == "rejected" and "already recording" in (reason or "")
    assert script.ack_for(bad)[0] == "rejected"
    (report,) = [a for a in script.artifacts if a.kind == "report"]
    assert report.name == result["artifact"]
    marks = step_marks(trace(report.path))
    assert marks == ["ProfilerStep#3", "ProfilerStep#4", "ProfilerStep#5"]
    (exported,) = script.named(EXPORTED)
    assert exported["attrs"]["to_step"] == 5 and exported["step"] == 5


def test_a_run_stopped_mid_recording_exports_it(tmp_path: Path) -> None:
    script = Script()
    script.at(2, "profile", steps=100)
    script.at(4, "stop")
    _, outcome = run(script, spec(epochs=1), tmp_path)
    assert outcome.state == "cancelled"
    (exported,) = script.named(EXPORTED)
    assert exported["attrs"]["partial"] is True and exported["attrs"]["steps"] == 2
    (report,) = [a for a in script.artifacts if a.kind == "report"]
    assert step_marks(trace(report.path)) == ["ProfilerStep#3", "ProfilerStep#4"]


def test_a_store_that_refuses_the_trace_does_not_fail_the_run(tmp_path: Path) -> None:
    script = Script()
    taken: list[ArtifactFile] = []

    def on_artifact(file: ArtifactFile) -> None:
        if file.kind == "report":
            raise OSError("artifact store unwritable")
        taken.append(file)

    script.hooks.on_artifact = on_artifact
    script.at(1, "profile", steps=2)
    _, outcome = run(script, spec(epochs=1), tmp_path)
    assert outcome.state == "completed", outcome.error
    (failed,) = script.named(EXPORT_FAILED)
    assert failed["level"] == "warning"
    assert "unwritable" in failed["attrs"]["reason"]
    assert not script.named(EXPORTED)
    assert {f.name for f in taken} >= {"model.json"}  # the bundle still went


def test_a_lost_upload_of_a_trace_is_the_profilers_failure_and_counted() -> None:
    assert PROFILE_PREFIX == PREFIX and PROFILER_EXPORT_FAILED == EXPORT_FAILED
    lost = {"artifact": f"{PREFIX}000000003-abcdef.json.gz", "reason": "503"}
    assert profile_lost("artifacts.upload_failed", lost)
    assert profile_lost("artifacts.upload_dropped", lost)
    assert not profile_lost("artifacts.stored", lost)
    assert not profile_lost("artifacts.upload_failed", {"artifact": "model.json"})
    before = metrics.PROFILER_EXPORT_FAILURES._value.get()
    metrics.observe_packet({"kind": "event", "name": EXPORT_FAILED, "attrs": lost})
    metrics.observe_packet({"kind": "event", "name": EXPORTED, "attrs": lost})
    assert metrics.PROFILER_EXPORT_FAILURES._value.get() == before + 1
