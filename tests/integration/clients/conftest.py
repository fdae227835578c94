"""Fixtures for the client tests: a live stack per module, the TypeScript
package's node_modules (npm ci from its lock file) and the pinned Python SDK
generator (a venv of its own, as `make clients` builds it)."""

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.gateway import ROOT, sqlite_url
from tests.fixtures.stack import LiveStack

CLIENTS = ROOT / "clients"
TYPESCRIPT = CLIENTS / "typescript"
GEN_VENV = ROOT / ".venv-clients"


def _makefile_value(name: str) -> str:
    """A `NAME ?= value` from the Makefile (one pin, one place)."""
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith(f"{name} ?="):
            return line.split("?=", 1)[1].strip()
    raise AssertionError(f"{name} not in the Makefile")


@pytest.fixture(scope="module")
def stack(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    """Gateway + one CPU worker on SQLite, auth off (the local mode)."""
    tmp = tmp_path_factory.mktemp("clients")
    live = LiveStack(sqlite_url(tmp), module_redis_url, tmp, workers=1)
    yield live
    print(live.logs()[-20000:])
    live.stop()


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """clients/typescript/node_modules as its lock file pins it (npm ci, from
    the npm registry), installed once unless already current."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the TypeScript client cannot be built")
    installed = TYPESCRIPT / "node_modules" / ".package-lock.json"
    lock = TYPESCRIPT / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=TYPESCRIPT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed:\n{done.stdout}\n{done.stderr}")
    return TYPESCRIPT / "node_modules"


@pytest.fixture(scope="session")
def python_generator() -> Path:
    """openapi-python-client at the Makefile's pinned version, in its own venv
    (its own pins on typer and httpx must not move the project's)."""
    version = _makefile_value("OPENAPI_PYTHON_CLIENT_VERSION")
    marker = GEN_VENV / f".v{version}"
    if not marker.exists():
        steps = [
            [sys.executable, "-m", "venv", str(GEN_VENV)],
            [
                str(GEN_VENV / "bin" / "pip"),
                "install",
                "--quiet",
                f"openapi-python-client=={version}",
            ],
        ]
        for argv in steps:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                pytest.fail(f"{argv} failed:\n{done.stdout}\n{done.stderr}")
        marker.touch()
    return GEN_VENV / "bin" / "openapi-python-client"


@pytest.fixture(scope="session")
def typescript_build(node_modules: Path) -> Path:
    """The TypeScript client and its round trip compiled once, `tsc --strict`
    (tsconfig.json says strict too); the output folder."""
    done = subprocess.run(
        ["npx", "--no-install", "tsc", "-p", "tsconfig.json", "--strict"],
        cwd=TYPESCRIPT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        pytest.fail(f"tsc --strict failed:\n{done.stdout}\n{done.stderr}")
    return TYPESCRIPT / "dist"
