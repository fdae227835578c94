"""`esper.models.load`: every form of path or URL to a bundle or checkpoint,
a user task's host, a model that trains on, and the errors a user can meet."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from esper import models
from tests.unit.engine.helpers import Script, run, spec
from workers.engine import bundle, export
from workers.engine.checkpoints import MANIFEST, STATE_FILE
from workers.engine.trainer import Trainer


class Run:
    def __init__(self, trainer: Trainer, root: Path) -> None:
        self.trainer = trainer
        self.folder = root / export.BUNDLE_DIR
        last = trainer.recovery.last_checkpoint
        assert last is not None
        self.checkpoint = Path(last.path)


def finished(tmp_path: Path, **overrides: Any) -> Run:
    script = Script()
    # A seed germinated at step 1 is still TRAINING (live) when the run ends.
    script.at(
        1, "seed_enable", slot=overrides.pop("slot", "block0"), blueprint="low_rank"
    )
    t, outcome = run(script, spec(**overrides), tmp_path)
    assert outcome.state == "completed", outcome.error
    return Run(t, tmp_path / "ckpt")


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return finished(tmp_path_factory.mktemp("digits"))


def same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_every_form_of_path_and_url_loads_the_same_model(
    digits: Run, tmp_path: Path
) -> None:
    bundle_dir, ckpt_dir = digits.folder, digits.checkpoint
    # The artifact store keeps a checkpoint as one file named by its id.
    artifact = tmp_path / f"{ckpt_dir.name}.pt"
    shutil.copyfile(ckpt_dir / STATE_FILE, artifact)
    first = models.load(bundle_dir)
    assert same(first, digits.trainer.parts.model)
    assert not first.training
    (seed,) = [slot for slot in first.modules() if getattr(slot, "seed", None)]
    assert seed.stage.value == "TRAINING"  # type: ignore[union-attr]
    forms: list[str | Path] = [
        bundle_dir / bundle.MANIFEST,
        bundle_dir / bundle.WEIGHTS,
        str(bundle_dir / bundle.PROGRAM),
        ckpt_dir,
        ckpt_dir / STATE_FILE,
        ckpt_dir / MANIFEST,
        f"file://{bundle_dir}",
        f"file://{bundle_dir}/{bundle.WEIGHTS}",
        f"file://{ckpt_dir}",
        f"file://{ckpt_dir}/{STATE_FILE}",
        artifact,
        f"file://{artifact}",
    ]
    for form in forms:
        assert same(models.load(form), first), form


def test_a_user_tasks_host_is_built_by_its_task(tmp_path: Path) -> None:
    user = finished(
        tmp_path, task="tests.unit.engine.user_task:factory", slot="mid", batch_size=32
    )
    assert bundle.read_manifest(user.folder)["host"] is None
    x = user.trainer.parts.task.val_x
    engine = user.trainer.parts.model.eval()
    with torch.no_grad():
        for source in (user.folder, user.checkpoint):
            assert torch.equal(models.load(source)(x), engine(x)), source


def test_the_loaded_model_trains_on(digits: Run) -> None:
    """Host and seed learn (the TRAINING seed through its straight-through
    term); a seed's channel scale serves only the `channel` blend mode."""
    model = models.load(digits.folder).train()
    task = digits.trainer.parts.task
    before = {k: v.clone() for k, v in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = nn.functional.cross_entropy(model(task.val_x), task.val_y)
    loss.backward()  # type: ignore[no-untyped-call]
    optimizer.step()
    learning = {k for k, v in model.named_parameters() if not torch.equal(v, before[k])}
    assert learning == {k for k in before if not k.endswith("channel_scale")}
    assert any(".seed.body." in k for k in learning)


def copy(run: Run, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run.folder, tmp_path / "bundle"))


def edit(folder: Path, change: dict[str, Any]) -> None:
    manifest = json.loads((folder / bundle.MANIFEST).read_text())
    manifest.update(change)
    (folder / bundle.MANIFEST).write_text(json.dumps(manifest))


def test_nothing_there_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no model bundle"):
        models.load(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="neither a model bundle"):
        models.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="no model bundle"):
        models.load(f"file://{tmp_path}")


def test_a_damaged_or_foreign_bundle_is_refused(digits: Run, tmp_path: Path) -> None:
    folder = copy(digits, tmp_path)
    weights = folder / bundle.WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(bundle.BundleError, match="checksum"):
        models.load(folder)
    folder = copy(digits, tmp_path / "newer")
    edit(folder, {"format_version": bundle.FORMAT_VERSION + 1})
    with pytest.raises(bundle.BundleError, match="upgrade Esper"):
        models.load(folder)
    edit(folder, {"format": "other", "format_version": 1})
    with pytest.raises(bundle.BundleError, match="not an Esper model"):
        models.load(folder)


def test_an_unregistered_blueprint_or_missing_seed_is_refused(
    digits: Run, tmp_path: Path
) -> None:
    folder = copy(digits, tmp_path)
    manifest = bundle.read_manifest(folder)
    unknown = [dict(manifest["seeds"][0], blueprint="made_up")]
    edit(folder, {"seeds": unknown})
    with pytest.raises(bundle.BundleError, match="not registered"):
        models.load(folder)
    edit(folder, {"seeds": []})  # its tensors are left over: a strict load fails
    with pytest.raises(RuntimeError, match="Unexpected key"):
        models.load(folder)
