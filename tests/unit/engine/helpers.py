"""Shared helpers for the engine tests: tiny specs and scripted hooks."""

from collections import deque
from pathlib import Path
from typing import Any

from api_schemas.runs import RunCreate
from workers.engine.hooks import (
    ArtifactFile,
    CheckpointInfo,
    EngineCommand,
    Hooks,
    RunOutcome,
)
from workers.engine.options import EngineOptions
from workers.engine.trainer import Trainer


def spec(**overrides: Any) -> RunCreate:
    base: dict[str, Any] = {
        "task": "digits",
        "epochs": 1,
        "batch_size": 64,
        "device": "cpu",
        "model": {"width": 16},
        "morphogenesis": {"enabled": False},
    }
    base.update(overrides)
    return RunCreate(**base)


def growth_spec(**overrides: Any) -> RunCreate:
    """Spirals with one seed allowed: long enough for a full lifecycle. The
    step-time gate and the policy's decision deadline are relaxed so a shared
    machine's timing noise cannot decide a test (a timed-out decision puts the
    policy in conservative mode, which never germinates); the validation gain
    still has to be real. The deadline itself is tested on its own."""
    return spec(
        task="spirals",
        epochs=7,
        batch_size=64,
        model={"width": 16},
        morphogenesis={
            "enabled": True,
            "max_seeds": 1,
            "gates": {"g4_max_step_overhead": 100.0},
            "decision_deadline_ms": 1000.0,
        },
        **overrides,
    )


class Script:
    """Hooks whose next_command releases commands once a step is reached."""

    def __init__(self) -> None:
        self.trainer: Trainer | None = None
        self.scheduled: deque[tuple[int, EngineCommand]] = deque()
        self.packets: list[dict[str, Any]] = []
        self.acks: list[tuple[str, str, str | None, dict[str, Any]]] = []
        self.states: list[str] = []
        self.checkpoints: list[CheckpointInfo] = []
        self.artifacts: list[ArtifactFile] = []
        self.hooks = Hooks(
            emit=self.packets.append,
            next_command=self.next_command,
            ack=lambda *a: self.acks.append(a),
            on_state=lambda s, i: self.states.append(s),
            on_checkpoint=self.checkpoints.append,
            on_artifact=self.artifacts.append,
        )

    def at(self, step: int, type_: str, **params: Any) -> str:
        cid = f"c{len(self.scheduled)}-{type_}"
        self.scheduled.append((step, EngineCommand(cid, type_, params)))
        return cid

    def next_command(self) -> EngineCommand | None:
        step = self.trainer.state.step if self.trainer else 0
        if self.scheduled and self.scheduled[0][0] <= step:
            return self.scheduled.popleft()[1]
        return None

    def named(self, name: str) -> list[dict[str, Any]]:
        return [p for p in self.packets if p["name"] == name]

    def ack_for(self, cid: str) -> tuple[str, str | None, dict[str, Any]]:
        found = [a for a in self.acks if a[0] == cid]
        assert len(found) == 1, f"{cid} acked {len(found)} times"
        return found[0][1], found[0][2], found[0][3]


def trainer(
    script: Script,
    run_spec: RunCreate,
    tmp_path: Path,
    options: EngineOptions | None = None,
    **kwargs: Any,
) -> Trainer:
    t = Trainer(
        run_spec,
        script.hooks,
        run_id="test-run",
        checkpoint_dir=tmp_path / "ckpt",
        device="cpu",
        options=options,
        **kwargs,
    )
    script.trainer = t
    return t


def run(
    script: Script, run_spec: RunCreate, tmp_path: Path, **kwargs: Any
) -> tuple[Trainer, RunOutcome]:
    t = trainer(script, run_spec, tmp_path, **kwargs)
    return t, t.run()
