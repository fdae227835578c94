"""Tolaria's profiler on command: `torch.profiler` over the next N steps.

A `profile` command arms it (commands.py -> RunControl.profile). The loop calls
`tick(step)` at every step boundary: the first tick after arming starts the
recording, each later one marks a step (`ProfilerStep#N` in the trace), and
the tick that has seen N steps stops it and exports. The run's end (`close`)
stops a recording early and exports what it holds. The export is a Chrome
trace (`{"traceEvents": [...]}`), always gzipped (so the artifact's name is
known when the command is acked; Perfetto and chrome://tracing open .json.gz
as they are), written under the run's folder and handed to `on_artifact` as
a run artifact of kind `report`; the worker uploads it.

One recording at a time: torch's profiler is process-wide, so a second
`profile` while one is armed or recording is rejected with the reason (the
operator sends it again after `tolaria.profiler.exported`).

Nothing here may fail the run: a profiler that cannot start, stop or export
is a warning event (`tolaria.profiler.export_failed`, with the stage and the
reason) and the recording is dropped.
"""

import contextlib
import gzip
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from torch.profiler import ProfilerActivity, profile, record_function

from workers.engine.hooks import ArtifactFile
from workers.engine.runtime import describe
from workers.engine.telemetry import Telemetry

PROFILE_DIR = "profiles"  # under the run's checkpoint dir
PREFIX = "profile-"  # every trace artifact's name starts with it
MAX_STEPS = 500  # API.md: steps 1..500
STARTED, EXPORTED = "tolaria.profiler.started", "tolaria.profiler.exported"
EXPORT_FAILED = "tolaria.profiler.export_failed"


class Phase(StrEnum):
    idle = "idle"
    armed = "armed"  # asked for; starts at the next step boundary
    recording = "recording"


@dataclass
class ProfileState:
    """The profiler's state, declared in one place."""

    phase: Phase = Phase.idle
    steps: int = 0  # steps to record
    recorded: int = 0  # steps recorded so far
    from_step: int = 0  # the first step recorded (the boundary's step + 1)
    artifact: str = ""  # the trace's artifact name
    cuda: bool = False  # record CUDA activity too
    marking: int = 0  # the step the open `ProfilerStep#` range is for
    started_at: float = 0.0  # perf_counter at the start


def trace_name(first_step: int) -> str:
    """The artifact's name: sortable by step, unique across rollbacks."""
    return f"{PREFIX}{first_step:09d}-{uuid.uuid4().hex[:6]}.json.gz"


class Profiler:
    def __init__(
        self,
        telemetry: Telemetry,
        on_artifact: Callable[[ArtifactFile], None],
        folder: Path,
    ) -> None:
        self.tm, self.on_artifact, self.folder = telemetry, on_artifact, folder
        self.state = ProfileState()
        self._profile: profile | None = None
        self._mark: record_function | None = None  # the step being recorded

    # ---- the command (RunControl.profile) ------------------------------------

    def request(self, steps: int, step: int, *, cuda: bool) -> dict[str, Any]:
        """Arm a recording of `steps` steps from the next step boundary; the
        ack's result. Raises ValueError when one is already armed or recording,
        or `steps` is out of range."""
        s = self.state
        if s.phase is not Phase.idle:
            raise ValueError(
                f"a profile is already {s.phase.value} ({s.artifact}, "
                f"{s.recorded} of {s.steps} steps); send another once "
                f"{EXPORTED} arrives"
            )
        if not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be 1..{MAX_STEPS}, not {steps}")
        self.state = ProfileState(
            Phase.armed,
            steps=steps,
            from_step=step + 1,
            artifact=trace_name(step + 1),
            cuda=cuda,
        )
        return {
            "artifact": self.state.artifact,
            "steps": steps,
            "from_step": step + 1,
            "to_step": step + steps,
            "starts": "at the next step boundary",
        }

    # ---- the loop --------------------------------------------------------------

    def tick(self, step: int) -> None:
        """At each step boundary (the training thread)."""
        s = self.state
        if s.phase is Phase.armed:
            self._start(step)
        elif s.phase is Phase.recording:
            s.recorded += 1
            self._end_mark()
            if s.recorded >= s.steps:
                self._finish(step, partial=False)
            else:
                self._begin_mark(step + 1)

    def close(self, step: int) -> None:
        """The run's end: export what a recording holds; an armed one that
        never started is reported as failed (its ack named an artifact)."""
        s = self.state
        if s.phase is Phase.recording:
            if s.marking <= step:  # ended at a boundary: that step was done
                s.recorded += 1
            self._finish(step, partial=True)
        elif s.phase is Phase.armed:
            self._failed("start", "the run ended before the recording started")

    def _begin_mark(self, step: int) -> None:
        """Each step as a `ProfilerStep#<step>` range, the name trace tools
        (Perfetto queries, HTA, TensorBoard's plugin) take for a step."""
        self._mark = record_function(f"ProfilerStep#{step}")
        self._mark.__enter__()
        self.state.marking = step

    def _end_mark(self) -> None:
        mark, self._mark = self._mark, None
        if mark is not None:
            mark.__exit__(None, None, None)

    # ---- recording and export --------------------------------------------------

    def _start(self, step: int) -> None:
        s = self.state
        activities = [ProfilerActivity.CPU]
        if s.cuda:
            activities.append(ProfilerActivity.CUDA)
        try:
            prof = profile(activities=activities)
            prof.start()
        except Exception as exc:  # e.g. another profiler is running (not ours)
            self._failed("start", describe(exc))
            return
        self._profile = prof
        s.phase, s.from_step = Phase.recording, step + 1
        s.started_at = time.perf_counter()
        self._begin_mark(step + 1)
        attrs = {"artifact": s.artifact, "steps": s.steps, "from_step": s.from_step}
        self.tm.event(STARTED, "info", {**attrs, "cuda": s.cuda})

    def _finish(self, step: int, *, partial: bool) -> None:
        s, prof = self.state, self._profile
        self._profile = None
        self._end_mark()  # a recording cut short: its step is still open
        recorded_s = time.perf_counter() - s.started_at
        started, stopped = time.perf_counter(), False
        try:
            assert prof is not None
            prof.stop()
            stopped = True
            path = self._write(prof, s.artifact)
            self.on_artifact(ArtifactFile(s.artifact, str(path), "report", step))
        except Exception as exc:  # the run goes on without the trace
            if prof is not None and not stopped:
                with contextlib.suppress(Exception):  # leave no profiler running
                    prof.stop()
            self._failed("export", describe(exc))
            return
        self.tm.event(
            EXPORTED,
            "info",
            {
                "artifact": s.artifact,
                "bytes": path.stat().st_size,
                "steps": s.recorded,
                "from_step": s.from_step,
                "to_step": step,
                "partial": partial,
                "recorded_s": round(recorded_s, 3),
                "export_ms": round((time.perf_counter() - started) * 1000.0, 1),
            },
        )
        self.state = ProfileState()

    def _write(self, prof: profile, name: str) -> Path:
        """The trace as `name` (gzipped JSON), written under a temporary name
        and renamed, so a reader never sees half a file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".tmp-{uuid.uuid4().hex[:8]}"
        raw, packed = tmp.with_suffix(".json"), tmp.with_suffix(".gz")
        try:
            prof.export_chrome_trace(str(raw))
            with raw.open("rb") as source, gzip.open(packed, "wb", 6) as target:
                shutil.copyfileobj(source, target, 1 << 20)
            out = self.folder / name
            os.replace(packed, out)
        finally:
            raw.unlink(missing_ok=True)
            packed.unlink(missing_ok=True)
        return out

    def _failed(self, stage: str, reason: str) -> None:
        s = self.state
        attrs = {"artifact": s.artifact, "stage": stage, "steps": s.recorded}
        self.tm.event(EXPORT_FAILED, "warning", {**attrs, "reason": reason})
        self.state = ProfileState()
