"""esper-client (clients/python) stays light: its import pulls in none of the
server's stack, and its package declares only what the generated code uses."""

import subprocess
import sys
import tomllib

from tests.fixtures.gateway import ROOT

SERVER_STACK = ("torch", "fastapi", "sqlmodel", "sqlalchemy", "pydantic", "redis")
PROBE = """
import sys
import esper_client
from esper_client.api import runs, commands, telemetry, artifacts, keys, workers
from esper_client import models
print(" ".join(sorted(name.split(".")[0] for name in sys.modules)))
"""


def test_importing_the_sdk_loads_no_server_module() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "esper_client" in loaded and "httpx" in loaded
    assert loaded.isdisjoint(SERVER_STACK), loaded & set(SERVER_STACK)


def test_the_package_depends_on_httpx_and_attrs_only() -> None:
    project = tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text())
    names = {d.split(">")[0].split("=")[0] for d in project["project"]["dependencies"]}
    assert names == {"httpx", "attrs"}
    assert project["project"]["name"] == "esper-client"
