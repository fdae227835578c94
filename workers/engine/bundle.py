"""The model bundle's format (API.md, Runs: Model bundle) and the rebuild of a
grown model from a bundle or from a checkpoint's state.

`export.py` writes a bundle at a run's end; the user's loader (`esper.models`)
reads it through this module, so both sides share one description of the grown
architecture: the host (built again from its recorded arguments, or by the
run's task when it is a user task's own host), then every seed the engine's
forward calls, built from its registered blueprint and put back in its slot
with its stage, blend mode and alpha. The weights are loaded over them,
strictly, so a missing or extra tensor is an error and not a silent change.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from api_schemas.enums import BlendMode, SeedStage
from api_schemas.runs import ModelOptions
from workers.engine.blueprints import build_seed
from workers.engine.hosts import CNNHost, Conv1DHost, MLPHost
from workers.engine.seeds.lifecycle import LIVE_STAGES
from workers.engine.seeds.slot import SeedInfo, SeedSlot, find_slots
from workers.engine.tasks import load_task

FORMAT = "esper.model"
FORMAT_VERSION = 1
WEIGHTS, MANIFEST, PROGRAM = "model.safetensors", "model.json", "model.pt2"
HOSTS: dict[str, type[MLPHost] | type[CNNHost] | type[Conv1DHost]] = {
    "mlp": MLPHost,
    "cnn": CNNHost,
    "cnn1d": Conv1DHost,
}
# Stages whose seed module the forward calls, so its tensors are in the
# model's state_dict: live seeds and fossils (culled ones are released).
HELD_STAGES = LIVE_STAGES | {SeedStage.FOSSILIZED}


class BundleError(ValueError):
    """A bundle or checkpoint that cannot be rebuilt into a model."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---- what the manifest records ----------------------------------------------


def describe_host(model: nn.Module) -> dict[str, Any] | None:
    """A built-in host's kind and arguments; None when only the run's task can
    build it (a user task's own host class)."""
    if isinstance(model, MLPHost | CNNHost | Conv1DHost):
        return {"kind": model.kind, "args": dict(model.args)}
    return None


def seed_records(model: nn.Module) -> list[dict[str, Any]]:
    """Every seed the model's forward calls, fossilised or still live."""
    return [
        _record(slot)
        for slot in find_slots(model).values()
        if slot.seed is not None and slot.info is not None
        if slot.stage in HELD_STAGES
    ]


def _record(slot: SeedSlot) -> dict[str, Any]:
    assert slot.info is not None
    return {
        "slot": slot.name,
        "seed_id": slot.info.seed_id,
        "blueprint": slot.info.blueprint,
        "stage": slot.stage.value,
        "fossilised": slot.stage is SeedStage.FOSSILIZED,
        "blend_mode": slot.blend_mode.value,
        "alpha": slot.alpha,
        "shape": list(slot.shape),
        "params": sum(p.numel() for p in slot.seed_parameters()),
        "germinated_step": slot.info.germinated_step,
    }


def registry_records(seeds: dict[str, Any], blend_mode: str) -> list[dict[str, Any]]:
    """The seed records of a checkpoint's registry state (`SeedRegistry.state`)."""
    records = []
    for name, saved in seeds["slots"].items():
        stage, info = SeedStage(saved["stage"]), saved["info"]
        if stage in HELD_STAGES and info is not None:
            records.append(
                {
                    "slot": name,
                    "seed_id": info["seed_id"],
                    "blueprint": info["blueprint"],
                    "stage": stage.value,
                    "blend_mode": blend_mode,
                    "alpha": float(saved["alpha"]),
                    "germinated_step": int(info["germinated_step"]),
                }
            )
    return records


# ---- the rebuild ------------------------------------------------------------


def build_host(
    host: dict[str, Any] | None, task: str, model: dict[str, Any], seed: int
) -> nn.Module:
    """The host without seeds, on the CPU, its weights still the initial ones."""
    if host is None:  # a user task's host: its factory (importable here) builds it
        options = ModelOptions.model_validate(model)
        return load_task(task, options, seed, torch.device("cpu")).host
    cls = HOSTS.get(host["kind"])
    if cls is None:
        raise BundleError(f"unknown host kind {host['kind']!r}")
    return cls(**host["args"])


def attach_seeds(model: nn.Module, records: list[dict[str, Any]]) -> None:
    """Each recorded seed built from its blueprint and put back in its slot."""
    slots = find_slots(model)
    for empty in slots.values():
        empty.set_stage(SeedStage.DORMANT)
    for record in records:
        slot = slots.get(record["slot"])
        if slot is None:
            raise BundleError(f"the host has no slot {record['slot']!r}")
        shape = record.get("shape")
        if shape is not None and tuple(shape) != slot.shape:
            raise BundleError(f"slot {slot.name!r} is {slot.shape}, not {shape}")
        _plant(slot, record)


def _plant(slot: SeedSlot, record: dict[str, Any]) -> None:
    blueprint = record["blueprint"]
    try:
        built = build_seed(blueprint, slot.shape, "cpu")
    except KeyError as exc:
        raise BundleError(f"blueprint {blueprint!r} is not registered") from exc
    # The saved stage is restored as it was (as a checkpoint restore does), not
    # walked through the lifecycle: the rebuilt model has no gates to pass.
    slot.stage = SeedStage(record["stage"])
    slot.blend_mode = BlendMode(record["blend_mode"])
    step = int(record.get("germinated_step", 0))
    slot.info = SeedInfo(record["seed_id"], blueprint, step, built.params)
    slot.attach(built.module)
    slot.alpha = float(record["alpha"])


def rebuild(manifest: dict[str, Any], weights: dict[str, Tensor]) -> nn.Module:
    """The bundle's model, in eval mode (`.train()` to train it further)."""
    model = build_host(
        manifest.get("host"),
        manifest["task"],
        manifest.get("model", {}),
        int(manifest.get("seed", 0)),
    )
    attach_seeds(model, manifest["seeds"])
    model.load_state_dict(weights, strict=True)
    return model.eval()


def read_manifest(folder: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{folder / MANIFEST} is not an Esper model manifest")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise BundleError(
            f"bundle format {manifest['format_version']} is newer than this "
            f"Esper reads ({FORMAT_VERSION}): upgrade Esper"
        )
    return manifest


def load_bundle(folder: Path) -> nn.Module:
    """A bundle folder's model; its weights are checked against the manifest."""
    manifest = read_manifest(folder)
    expected = manifest.get("files", {}).get(WEIGHTS, {}).get("sha256")
    if expected is not None and file_sha256(folder / WEIGHTS) != expected:
        raise BundleError(f"checksum mismatch for {folder / WEIGHTS}")
    return rebuild(manifest, load_file(folder / WEIGHTS))


def model_from_checkpoint(state: dict[str, Any]) -> nn.Module:
    """The model of a checkpoint's state (`Recovery.full`): the host built by
    the run's task from the saved spec, its seeds per the saved registry."""
    spec = state["spec"]
    blend_mode = spec.get("morphogenesis", {}).get("blend_mode", BlendMode.convex)
    model = build_host(None, spec["task"], spec.get("model", {}), spec.get("seed", 0))
    attach_seeds(model, registry_records(state["seeds"], str(blend_mode)))
    model.load_state_dict(state["model"], strict=True)
    return model.eval()
