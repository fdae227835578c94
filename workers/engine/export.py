"""Tolaria's export: the run's final model as a bundle a user loads without
Esper's worker (API.md, Runs: Model bundle; the format is bundle.py).

Once, when a run ends (completed, cancelled or halted), after its final
checkpoint, by the writing rank: `model.safetensors` (the weights, every seed
the forward calls included), `model.json` (the manifest) and, where
`torch.export` captures it, `model.pt2`. Before it is published the bundle is
rebuilt from its own files and its logits compared with the engine's model's
over the validation set, so a bundle that would not reproduce the run is never
written. It is written under a temporary name and renamed, like a checkpoint,
then each file is reported with `on_artifact`, the manifest last.

Nothing here may fail the run: an error is a warning event
(`tolaria.export.failed`, or `tolaria.export.program_failed` when only the
program could not be captured) and the run keeps its outcome.
"""

import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from api_schemas.runs import RunCreate
from workers.engine import bundle
from workers.engine.build import Parts
from workers.engine.hooks import ArtifactFile
from workers.engine.runtime import describe
from workers.engine.seeds.slot import find_slots
from workers.engine.telemetry import Telemetry

BUNDLE_DIR = "model"  # under the run's checkpoint dir
# The contract: the bundle's logits equal the engine's to 1e-5. On another
# device the engine's kernels round differently from the CPU's (TF32
# convolutions on CUDA), so the check there is looser.
CPU_TOLERANCE = 1e-5
DEVICE_TOLERANCE = 1e-3
EXAMPLE_BATCH = 8  # the program's example input (its batch dimension is dynamic)


@dataclass(frozen=True)
class RunEnd:
    """What the loop knows of the run as it ends."""

    run_id: str
    outcome: str  # completed | cancelled | halted
    step: int
    epoch: int
    metrics: dict[str, float | None]


def export_model(
    parts: Parts,
    spec: RunCreate,
    end: RunEnd,
    out: Path,
    telemetry: Telemetry,
    on_artifact: Callable[[ArtifactFile], None],
    val_batch: int = 1024,
) -> list[ArtifactFile]:
    """Write the bundle to `out` and report its files; [] when it failed."""
    started = time.perf_counter()
    try:
        files = _write_bundle(parts, spec, end, out, telemetry, val_batch)
        for file in files:
            on_artifact(file)
    except Exception as exc:  # the run keeps its outcome; the event says why
        telemetry.event("tolaria.export.failed", "warning", {"reason": describe(exc)})
        return []
    ms = (time.perf_counter() - started) * 1000.0
    names = [file.name for file in files]
    telemetry.event("tolaria.export.written", "info", {"files": names, "ms": ms})
    return files


def _write_bundle(
    parts: Parts,
    spec: RunCreate,
    end: RunEnd,
    out: Path,
    telemetry: Telemetry,
    val_batch: int,
) -> list[ArtifactFile]:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".tmp-{out.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        manifest = _manifest(parts, spec, end)
        save_file(_weights(parts.model), tmp / bundle.WEIGHTS, {"format": "pt"})
        model = bundle.rebuild(manifest, load_file(tmp / bundle.WEIGHTS))
        manifest["validation"] = _check(parts, model, val_batch)
        manifest["classes"] = manifest["validation"].pop("classes")
        example = parts.task.val_x[:val_batch].detach().cpu()
        manifest["program"] = _program(model, example, tmp, telemetry)
        names = [bundle.WEIGHTS] + ([bundle.PROGRAM] if manifest["program"] else [])
        manifest["files"] = {name: _file_entry(tmp / name) for name in names}
        (tmp / bundle.MANIFEST).write_text(json.dumps(manifest, indent=1))
        _publish(tmp, out, names + [bundle.MANIFEST])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [
        ArtifactFile(name, str(out / name), "model", end.step)
        for name in names + [bundle.MANIFEST]
    ]


def _manifest(parts: Parts, spec: RunCreate, end: RunEnd) -> dict[str, Any]:
    model, val_x = parts.model, parts.task.val_x
    return {
        "format": bundle.FORMAT,
        "format_version": bundle.FORMAT_VERSION,
        "run_id": end.run_id,
        "outcome": end.outcome,
        "step": end.step,
        "epoch": end.epoch,
        "task": spec.task,
        "model": spec.model.model_dump(mode="json"),
        "seed": spec.seed,
        "host": bundle.describe_host(model),
        "slots": [
            {"name": slot.name, "shape": list(slot.shape)}
            for slot in find_slots(model).values()
        ],
        "seeds": bundle.seed_records(model),
        "input_shape": list(val_x.shape[1:]),
        "input_dtype": str(val_x.dtype).removeprefix("torch."),
        "params": sum(p.numel() for p in model.parameters()),
        "metrics": {k: _finite(v) for k, v in end.metrics.items()},
        "torch": torch.__version__,
        "created": datetime.now(UTC).isoformat(),
    }


def _finite(value: float | None) -> float | None:
    # JSON has no NaN: a run halted on a non-finite loss records null.
    return value if value is None or math.isfinite(value) else None


def _weights(model: nn.Module) -> dict[str, Tensor]:
    # Copies on the CPU: safetensors refuses tensors that share storage, and
    # the training model's tensors stay where they are.
    return {
        name: tensor.detach().to("cpu", copy=True).contiguous()
        for name, tensor in model.state_dict().items()
    }


@torch.no_grad()
def _check(parts: Parts, rebuilt: nn.Module, batch: int) -> dict[str, Any]:
    """The rebuilt model against the engine's over the validation set: the
    largest logit difference (raises past the tolerance) and its figures."""
    engine, task = parts.model, parts.task
    was_training = engine.training
    engine.eval()
    rebuilt.to(parts.device)
    worst, correct, loss, classes = 0.0, 0, 0.0, 0
    try:
        for start in range(0, task.val_x.shape[0], batch):
            x, y = task.val_x[start : start + batch], task.val_y[start : start + batch]
            theirs, ours = engine(x).float(), rebuilt(x)
            worst = max(worst, float((theirs - ours).abs().max()))
            correct += int((ours.argmax(dim=1) == y).sum())
            loss += float(task.loss_fn(ours, y)) * y.shape[0]
            classes = ours.shape[1]
    finally:
        engine.train(was_training)
        rebuilt.cpu()
    tolerance = CPU_TOLERANCE if parts.device.type == "cpu" else DEVICE_TOLERANCE
    if not worst <= tolerance:
        why = f"the rebuilt model's logits differ from the engine's by {worst:.3g}"
        raise bundle.BundleError(why)
    n = task.val_x.shape[0]
    return {
        "samples": n,
        "classes": classes,
        "accuracy": correct / n if n else None,
        "loss": _finite(loss / n) if n else None,
        "max_abs_diff": worst,
    }


def _program(
    model: nn.Module, inputs: Tensor, folder: Path, telemetry: Telemetry
) -> dict[str, Any] | None:
    """`model.pt2` where torch.export captures the model and the program's
    logits equal the model's; otherwise a warning event and None."""
    try:
        program, dynamic = _capture(model, inputs[:EXAMPLE_BATCH])
        with torch.no_grad():
            diff = float((program.module()(inputs) - model(inputs)).abs().max())
        if not diff <= CPU_TOLERANCE:
            raise bundle.BundleError(f"the program's logits differ by {diff:.3g}")
        torch.export.save(program, folder / bundle.PROGRAM)
    except Exception as exc:  # the bundle is written without the program
        (folder / bundle.PROGRAM).unlink(missing_ok=True)
        reason = describe(exc)[:2000]
        telemetry.event("tolaria.export.program_failed", "warning", {"reason": reason})
        return None
    return {"file": bundle.PROGRAM, "dynamic_batch": dynamic, "max_abs_diff": diff}


def _capture(model: nn.Module, example: Tensor) -> tuple[Any, bool]:
    """The exported program, with a dynamic batch dimension where it can be."""
    if example.shape[0] >= 2:  # torch.export specialises a batch of 1
        batch = torch.export.Dim("batch")
        try:
            dynamic = ({0: batch},)
            return torch.export.export(model, (example,), dynamic_shapes=dynamic), True
        except Exception:  # e.g. a host that reshapes by a fixed batch size
            pass
    return torch.export.export(model, (example,)), False


def _file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": bundle.file_sha256(path), "bytes": path.stat().st_size}


def _publish(tmp: Path, out: Path, names: list[str]) -> None:
    """Flush the files, then put the folder in place of an earlier bundle (a
    resumed run's) in one rename, so a reader sees one bundle or the other."""
    for name in names:
        with (tmp / name).open("rb") as handle:
            os.fsync(handle.fileno())
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
