"""Load a model an Esper run grew: `esper.models.load(path_or_url)`.

It takes a run's model bundle (a folder holding `model.json` and
`model.safetensors`, or one of its files) or any of the run's checkpoints: the
engine's `ckpt-*` folder (or its `state.pt`, or its `manifest.json`), or a
checkpoint artifact of the store (`ckpt-000000050.pt`, the same `state.pt`
under its artifact name), on local disk or at an fsspec URL (`file://...`,
`s3://...` with s3fs installed, any protocol fsspec knows). In the artifact
store a run's files sit side by side (`runs/{run_id}/files/`): that folder
loads as the bundle.

It returns a plain `nn.Module`: the run's host with every seed the run's
forward called, rebuilt from the registered blueprints, its weights loaded, on
the CPU, in eval mode (call `.train()` to train it further). A bundle of a
built-in host needs nothing but its files; a user task's host, and any
checkpoint, is built by the run's task, which must be importable here. The
bundle's `model.pt2` needs no Esper code at all: `torch.export.load`.
"""

import os
import posixpath
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fsspec
import torch
from torch import nn

from workers.engine import bundle
from workers.engine import checkpoints as ckpt

PathOrUrl = str | os.PathLike[str]
BUNDLE_FILES = (bundle.MANIFEST, bundle.WEIGHTS)  # what a bundle's load reads
CHECKPOINT_SUFFIX = ".pt"  # state.pt, and a checkpoint artifact's name


def load(path_or_url: PathOrUrl) -> nn.Module:
    """The model of a bundle or checkpoint, on the CPU, in eval mode."""
    with _local(path_or_url) as path:
        return _load_local(path)


def _load_local(path: Path) -> nn.Module:
    if path.is_file() and path.suffix == CHECKPOINT_SUFFIX:
        return bundle.model_from_checkpoint(_checkpoint_file(path))
    folder = path.parent if path.is_file() else path
    if path.name == ckpt.MANIFEST or _only_checkpoint(folder):
        return bundle.model_from_checkpoint(ckpt.load_checkpoint(folder))
    if (folder / bundle.MANIFEST).is_file():
        return bundle.load_bundle(folder)
    if not path.exists():
        raise FileNotFoundError(f"no model bundle or checkpoint at {path}")
    raise FileNotFoundError(
        f"{path} holds neither a model bundle ({bundle.MANIFEST}) "
        f"nor a checkpoint ({ckpt.STATE_FILE})"
    )


def _only_checkpoint(folder: Path) -> bool:
    has_state = (folder / ckpt.STATE_FILE).is_file()
    return has_state and not (folder / bundle.MANIFEST).is_file()


def _checkpoint_file(path: Path) -> dict[str, Any]:
    """A checkpoint's state; checksums verified where the engine's manifest
    sits beside it (the store verified an artifact's on upload)."""
    if path.name == ckpt.STATE_FILE and (path.parent / ckpt.MANIFEST).is_file():
        return ckpt.load_checkpoint(path.parent)
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return state


# ---- URLs -------------------------------------------------------------------


@contextmanager
def _local(target: PathOrUrl) -> Iterator[Path]:
    """A local path to read: the target itself, or a temporary folder holding
    the files a load needs, copied from the URL."""
    text = os.fspath(target)
    if "://" not in text:
        yield Path(text).expanduser()
        return
    with tempfile.TemporaryDirectory(prefix="esper-model-") as tmp:
        yield _download(text, Path(tmp))


def _download(url: str, into: Path) -> Path:
    fs, found = fsspec.core.url_to_fs(url)
    root: str = found.rstrip("/")
    named = posixpath.basename(root) if fs.isfile(root) else None
    if named and named.endswith(CHECKPOINT_SUFFIX) and named != ckpt.STATE_FILE:
        fs.get_file(root, str(into / named))  # a checkpoint artifact: one file
        return into / named
    folder = posixpath.dirname(root) if named else root
    for wanted in _candidates(named):
        if fs.exists(posixpath.join(folder, wanted[0])):
            for name in wanted:
                fs.get_file(posixpath.join(folder, name), str(into / name))
            return into
    raise FileNotFoundError(f"no model bundle or checkpoint at {url}")


def _candidates(named: str | None) -> list[tuple[str, ...]]:
    """The files to copy, by what the URL names (a folder: a bundle, else an
    engine checkpoint); the first of each must be there."""
    checkpoint = (ckpt.MANIFEST, ckpt.STATE_FILE)
    if named is None:
        return [BUNDLE_FILES, checkpoint]
    if named in checkpoint:
        return [checkpoint]
    return [BUNDLE_FILES] if named in (*BUNDLE_FILES, bundle.PROGRAM) else []
