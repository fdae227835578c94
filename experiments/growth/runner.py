"""Training one engine run and reading its telemetry into a RunRecord.

The engine is driven exactly as a worker drives it (Trainer with Hooks); the
experiment only listens to the packets it emits, so the curves are what a
client of the API would see.
"""

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api_schemas.runs import RunCreate
from experiments.growth.plans import TaskPlan
from experiments.growth.record import CurvePoint, RunRecord
from workers.engine.hooks import EngineCommand, Hooks, Packet
from workers.engine.trainer import Trainer

VAL_ACC = "tolaria.validation.accuracy"
FLOPS = "tolaria.compute.flops"


@dataclass(frozen=True)
class Job:
    """One run to make: a config of a task at a width with an RNG seed."""

    plan: TaskPlan
    config: str
    width: int
    seed: int
    epochs: int
    grow: bool = False
    # Overrides of the morphogenesis spec; empty means the default spec.
    morphogenesis: dict[str, Any] = field(default_factory=dict)
    # Operator commands as (step, type, params), applied at that step.
    commands: tuple[tuple[int, str, dict[str, Any]], ...] = ()
    max_steps: int | None = None  # a warm-up's few steps

    def spec(self) -> RunCreate:
        plan = self.plan
        return RunCreate(
            task=plan.task,
            model=plan.model(self.width),
            epochs=self.epochs,
            batch_size=plan.batch_size,
            learning_rate=plan.learning_rate,
            seed=self.seed,
            device="cpu",
            morphogenesis={"enabled": self.grow, **self.morphogenesis},
            max_steps=self.max_steps,
        )


class Listener:
    """Keeps what the report needs from the packet stream, nothing else."""

    def __init__(self) -> None:
        self.trainer: Trainer | None = None
        self.validations: list[tuple[int, int, float, int]] = []
        self.flops: list[tuple[int, int]] = []  # (step, cumulative FLOPs)
        self.germinations: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []
        self.waits = 0
        self.gate_failures: list[dict[str, Any]] = []
        self.paths: dict[str, list[str]] = {}

    def __call__(self, packet: Packet) -> None:
        name = packet["name"]
        if name == VAL_ACC:
            params = self.trainer.parts.params() if self.trainer else 0
            self.validations.append(
                (packet["step"], packet["epoch"], float(packet["value"]), params)
            )
        elif name == FLOPS:
            self.flops.append((packet["step"], int(packet["value"])))
        elif packet["kind"] == "event":
            self._event(name, packet)

    def _event(self, name: str, packet: Packet) -> None:
        attrs, where = packet["attrs"], {"step": packet["step"]}
        where["epoch"] = packet["epoch"]
        if name == "kasmina.seed.stage_changed":
            seed = str(attrs.get("seed_id"))
            self.paths.setdefault(seed, []).append(str(attrs["to"]))
            if attrs["to"] == "GERMINATED":
                keep = ("seed_id", "slot", "blueprint", "reason")
                self.germinations.append({**where, **{k: attrs.get(k) for k in keep}})
        elif name == "kasmina.gate_failure":
            keep = ("seed_id", "blueprint", "gate", "reason")
            self.gate_failures.append({**where, **{k: attrs.get(k) for k in keep}})
        elif name == "tamiyo.decision":
            if packet["value"] == "wait":
                self.waits += 1
            else:
                keep = ("action", "slot", "blueprint", "reason")
                self.decisions.append({**where, **{k: attrs.get(k) for k in keep}})

    def curve(self) -> list[CurvePoint]:
        return [
            CurvePoint(step, epoch, flops_at(self.flops, step), acc, params)
            for step, epoch, acc, params in self.validations
        ]


def flops_at(readings: list[tuple[int, int]], step: int) -> int | None:
    """The cumulative FLOPs last reported at or before `step` (None: never)."""
    seen = [value for at, value in readings if at <= step]
    return seen[-1] if seen else None


def run_engine(job: Job) -> RunRecord:
    """Train one run in this process and read its record."""
    listener = Listener()
    pending = [EngineCommand(f"c{i}", t, p) for i, (_, t, p) in enumerate(job.commands)]
    due = [step for step, _, _ in job.commands]

    def next_command() -> EngineCommand | None:
        trainer = listener.trainer
        if pending and trainer is not None and trainer.state.step >= due[0]:
            due.pop(0)
            return pending.pop(0)
        return None

    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(
            job.spec(),
            Hooks(emit=listener, next_command=next_command),
            run_id=f"growth-{job.plan.name}-{job.config}-{job.seed}",
            checkpoint_dir=Path(folder),
        )
        listener.trainer = trainer
        started = time.perf_counter()
        outcome = trainer.run()
        wall_s = time.perf_counter() - started
        reports = read_field_reports(Path(folder) / "field_reports.jsonl")
    if outcome.state != "completed":
        raise RuntimeError(f"{job}: {outcome.state} {outcome.error}")
    record = _record(job, outcome.result, listener, wall_s)
    record.notes["field_reports"] = reports
    aggregator = trainer.parts.fw.aggregator
    if aggregator is not None:  # pcgrad: steps split and conflicting pairs
        record.notes["split_steps"] = getattr(aggregator, "decomposed_steps", 0)
        record.notes["conflicts"] = getattr(aggregator, "conflicts", 0)
    return record


def read_field_reports(path: Path) -> list[dict[str, Any]]:
    """Tamiyo's field reports of a run (one JSON object a line), if any."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _record(
    job: Job, result: dict[str, Any], listener: Listener, wall_s: float
) -> RunRecord:
    curve = listener.curve()
    flops = result.get("train_flops")
    return RunRecord(
        task=job.plan.name,
        config=job.config,
        seed=job.seed,
        width=job.width,
        val_acc=float(result["metrics"]["val_accuracy"]),
        params=int(result["params"]),
        train_flops=None if flops is None else int(flops),
        wall_s=wall_s,
        curve=curve,
        seeds={k: int(v) for k, v in result.get("seeds", {}).items()},
        germinations=listener.germinations,
        decisions=listener.decisions,
        waits=listener.waits,
        gate_failures=listener.gate_failures,
        stage_paths=listener.paths,
        tamiyo_timeouts=int(result.get("tamiyo_timeouts", 0)),
    )
