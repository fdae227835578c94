"""The model bundle (export.py): written when a run ends, loaded both ways (the
`model.pt2` program and `esper.models.load`) in a fresh process that imports
neither the gateway nor the worker runtime, with the engine's logits."""

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from esper import models
from tests.unit.engine.helpers import Script, growth_spec, run, spec
from workers.engine import bundle, export
from workers.engine.collective import Solo
from workers.engine.hooks import RunOutcome
from workers.engine.strategy import OneDevice
from workers.engine.trainer import Trainer

ROOT = Path(__file__).resolve().parents[3]
FILES = ["model.safetensors", "model.pt2", "model.json"]

# Run in a fresh interpreter: loads the bundle as a user would and reports the
# logits' distance from the engine's, the accuracy, and any module imported
# that belongs to the gateway or the worker runtime.
CHILD = """
import json, sys
import torch
import esper.models

folder, checkpoint, data_path = sys.argv[1:4]
data = torch.load(data_path, weights_only=True)
x, y, engine = data["x"], data["y"], data["logits"]
loaded = {
    "pt2": torch.export.load(folder + "/model.pt2").module(),
    "loader": esper.models.load(folder),
    "url": esper.models.load("file://" + folder + "/model.json"),
    "checkpoint": esper.models.load(checkpoint),
}
report = {}
with torch.no_grad():
    for name, model in loaded.items():
        logits = model(x)
        hits = int((logits.argmax(dim=1) == y).sum())
        diff = float((logits - engine).abs().max())
        report[name] = {"max_abs_diff": diff, "accuracy": hits / y.shape[0]}
# (Not redis: torch's own inductor cache imports it where it is installed.)
outside = {"app", "fastapi", "starlette", "sqlmodel", "sqlalchemy", "uvicorn"}
report["imported"] = sorted(
    m for m in sys.modules
    if m.split(".")[0] in outside
    or (m.startswith("workers.") and not m.startswith("workers.engine"))
)
print(json.dumps(report))
"""


@dataclass
class Ended:
    trainer: Trainer
    outcome: RunOutcome
    script: Script
    root: Path  # the run's checkpoint dir

    @property
    def folder(self) -> Path:
        return self.root / export.BUNDLE_DIR

    def manifest(self) -> dict[str, Any]:
        return bundle.read_manifest(self.folder)


def finish(script: Script, run_spec: Any, tmp_path: Path, **kwargs: Any) -> Ended:
    t, outcome = run(script, run_spec, tmp_path, **kwargs)
    return Ended(t, outcome, script, tmp_path / "ckpt")


@torch.no_grad()
def engine_logits(t: Trainer) -> Tensor:
    """The engine's model on the validation set, as `evaluate` runs it."""
    model, x = t.parts.model, t.parts.task.val_x
    model.eval()
    try:
        return torch.cat([model(x[i : i + 1024]) for i in range(0, len(x), 1024)])
    finally:
        model.train()


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Ended:
    ended = finish(Script(), growth_spec(), tmp_path_factory.mktemp("grown"))
    assert ended.outcome.state == "completed", ended.outcome.error
    assert ended.outcome.result["seed_stages"].get("FOSSILIZED", 0) >= 1
    return ended


def test_a_grown_run_writes_the_bundle_and_reports_it(grown: Ended) -> None:
    steps = grown.outcome.result["steps"]
    reported = [(a.name, a.kind, a.step) for a in grown.script.artifacts]
    assert reported == [(name, "model", steps) for name in FILES]  # manifest last
    assert {a.path for a in grown.script.artifacts} == {
        str(grown.folder / name) for name in FILES
    }
    manifest = grown.manifest()
    assert manifest["outcome"] == "completed" and manifest["step"] == steps
    assert manifest["task"] == "spirals" and manifest["host"]["kind"] == "mlp"
    assert manifest["input_shape"] == [2] and manifest["classes"] == 3
    assert manifest["torch"] == torch.__version__
    (fossil,) = [s for s in manifest["seeds"] if s["fossilised"]]
    assert fossil["stage"] == "FOSSILIZED" and fossil["alpha"] == 1.0
    assert fossil["slot"] in {s["name"] for s in manifest["slots"]}
    run_metrics = grown.outcome.result["metrics"]
    assert manifest["metrics"]["val_accuracy"] == run_metrics["val_accuracy"]
    assert manifest["validation"]["accuracy"] == run_metrics["val_accuracy"]
    assert manifest["validation"]["max_abs_diff"] <= 1e-5
    for name, entry in manifest["files"].items():
        assert bundle.file_sha256(grown.folder / name) == entry["sha256"]
    assert not list(grown.root.glob(".tmp-*"))
    assert [p["name"] for p in grown.script.named("tolaria.export.written")] == [
        "tolaria.export.written"
    ]


def test_a_fresh_process_loads_the_bundle_both_ways(
    grown: Ended, tmp_path: Path
) -> None:
    data = tmp_path / "validation.pt"
    task = grown.trainer.parts.task
    torch.save(
        {"x": task.val_x, "y": task.val_y, "logits": engine_logits(grown.trainer)},
        data,
    )
    checkpoint = grown.trainer.recovery.last_checkpoint
    assert checkpoint is not None and checkpoint.step == grown.outcome.result["steps"]
    args = [str(grown.folder), checkpoint.path, str(data)]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report.pop("imported") == []
    expected = grown.outcome.result["metrics"]["val_accuracy"]
    for way, figures in report.items():
        assert figures["max_abs_diff"] <= 1e-5, way
        assert figures["accuracy"] == expected, way


def test_a_live_blending_seed_is_exported_as_it_is(tmp_path: Path) -> None:
    """A seed still blending when the run ends (here: stopped) is in the
    bundle at its alpha, so the bundle's logits are the engine's."""
    script = Script()
    script.at(1, "seed_enable", slot="block0", blueprint="residual_mlp")
    script.at(30, "stop")
    morph = {
        "enabled": False,
        "blend_mode": "residual",
        "blend_steps": 1000,
        "gates": {"min_training_steps": 5, "g2_window": 2, "probe_every": 1},
    }
    ended = finish(script, spec(epochs=3, morphogenesis=morph), tmp_path)
    assert ended.outcome.state == "cancelled", ended.outcome.error
    manifest = ended.manifest()
    assert manifest["outcome"] == "cancelled"
    (seed,) = manifest["seeds"]
    assert seed["stage"] == "BLENDING" and not seed["fossilised"]
    assert 0.0 < seed["alpha"] < 1.0 and seed["blend_mode"] == "residual"
    x, expected = ended.trainer.parts.task.val_x, engine_logits(ended.trainer)
    program = torch.export.load(ended.folder / bundle.PROGRAM).module()
    for model in (models.load(ended.folder), program):
        with torch.no_grad():
            assert (model(x) - expected).abs().max() <= 1e-5
    without = models.load(ended.folder)
    without.slots[0].bypass = True  # type: ignore[index, union-attr]
    with torch.no_grad():  # the seed does change the function
        assert (without(x) - expected).abs().max() > 1e-4


def test_a_cnn_host_with_an_image_seed_round_trips(tmp_path: Path) -> None:
    script = Script()
    script.at(1, "seed_enable", slot="block0", blueprint="conv3x3")
    images = spec(
        task="synthetic-images",
        model={"width": 4, "depth": 2, "options": {"samples": 256}},
        batch_size=32,
    )
    ended = finish(script, images, tmp_path)
    assert ended.outcome.state == "completed", ended.outcome.error
    manifest = ended.manifest()
    assert manifest["host"] == {
        "kind": "cnn",
        "args": {"in_ch": 3, "width": 4, "depth": 2, "classes": 10, "size": 32},
    }
    assert manifest["input_shape"] == [3, 32, 32]
    assert [s["stage"] for s in manifest["seeds"]] == ["TRAINING"]
    loaded = models.load(ended.folder)
    assert not loaded.training  # BatchNorm: running statistics, as validated
    expected = engine_logits(ended.trainer)
    with torch.no_grad():
        assert (loaded(ended.trainer.parts.task.val_x) - expected).abs().max() <= 1e-5


def test_a_halted_run_exports_its_model(tmp_path: Path) -> None:
    script = Script()
    script.at(3, "emergency_halt", reason="stop now")
    ended = finish(script, spec(epochs=2), tmp_path)
    assert ended.outcome.state == "halted"
    manifest = ended.manifest()
    assert manifest["outcome"] == "halted" and manifest["step"] == 3
    assert [a.name for a in script.artifacts] == FILES


class SecondRank(Solo):
    rank = 1


def test_only_the_writing_rank_exports(tmp_path: Path) -> None:
    """A DDP run's other ranks hold the same model: rank 0 alone writes it."""
    strategy = OneDevice()
    strategy.collective = SecondRank()
    ended = finish(Script(), spec(), tmp_path, strategy=strategy)
    assert ended.outcome.state == "completed", ended.outcome.error
    assert not ended.folder.exists() and ended.script.artifacts == []
    assert not ended.script.named("tolaria.export.written")


def test_a_failed_run_exports_nothing(tmp_path: Path) -> None:
    ended = finish(Script(), spec(task="nope"), tmp_path)
    assert ended.outcome.state == "failed"
    assert not ended.folder.exists() and ended.script.artifacts == []


def test_an_export_error_is_a_warning_and_the_run_keeps_its_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(export, "save_file", disk_full)
    ended = finish(Script(), spec(), tmp_path)
    assert ended.outcome.state == "completed", ended.outcome.error
    (failed,) = ended.script.named("tolaria.export.failed")
    assert failed["level"] == "warning" and "disk full" in failed["attrs"]["reason"]
    assert ended.script.artifacts == [] and not ended.folder.exists()
    assert not list(ended.root.glob(".tmp-*"))


def test_a_model_the_program_cannot_capture_is_bundled_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(model: nn.Module, example: Tensor) -> tuple[Any, bool]:
        raise RuntimeError("data-dependent control flow")

    monkeypatch.setattr(export, "_capture", refuse)
    ended = finish(Script(), spec(), tmp_path)
    assert ended.outcome.state == "completed", ended.outcome.error
    (warning,) = ended.script.named("tolaria.export.program_failed")
    assert "data-dependent" in warning["attrs"]["reason"]
    assert [a.name for a in ended.script.artifacts] == [
        "model.safetensors",
        "model.json",
    ]
    manifest = ended.manifest()
    assert manifest["program"] is None and set(manifest["files"]) == {FILES[0]}
    assert not (ended.folder / bundle.PROGRAM).exists()
    with torch.no_grad():
        logits = models.load(ended.folder)(ended.trainer.parts.task.val_x)
    assert (logits - engine_logits(ended.trainer)).abs().max() <= 1e-5
