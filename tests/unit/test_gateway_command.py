"""`esper gateway` refuses what production must not run on, and says why.

The command itself (exec of uvicorn with several processes, from an install
without torch) is tested in tests/integration/packaging/test_gateway_install.py.
"""

import os

import pytest
from typer.testing import CliRunner

from app.cli.gateway import GatewayOptions, production_problems, uvicorn_argv
from app.cli.main import cli
from app.settings import Settings

PG = "postgresql://esper:pw@db/esper"
SECRET = "s3cret"


@pytest.fixture(autouse=True)
def no_esper_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: not the caller's ESPER_* (a local-mode shell)."""
    for name in list(os.environ):
        if name.upper().startswith("ESPER_"):
            monkeypatch.delenv(name)


def problems(env: dict[str, str], allow_sqlite: bool = False) -> list[str]:
    settings = Settings.model_validate(
        {k.removeprefix("ESPER_").lower(): v for k, v in env.items()}
    )
    return production_problems(settings, env, allow_sqlite)


def test_postgres_and_a_secret_are_enough() -> None:
    assert problems({"ESPER_DATABASE_URL": PG, "ESPER_LEYLINE_SECRET": SECRET}) == []


def test_the_default_database_is_not_taken_silently() -> None:
    (problem,) = problems({"ESPER_LEYLINE_SECRET": SECRET})
    assert "ESPER_DATABASE_URL is not set" in problem


def test_sqlite_only_when_allowed() -> None:
    env = {"ESPER_DATABASE_URL": "sqlite:///x.db", "ESPER_LEYLINE_SECRET": SECRET}
    (problem,) = problems(env)
    assert "--allow-sqlite" in problem
    assert problems(env, allow_sqlite=True) == []


def test_local_mode_and_a_missing_secret_are_refused() -> None:
    found = problems({"ESPER_DATABASE_URL": PG, "ESPER_LOCAL_MODE": "1"})
    assert len(found) == 2
    assert any("ESPER_LOCAL_MODE" in p for p in found)
    assert any("ESPER_LEYLINE_SECRET" in p for p in found)


def test_uvicorn_gets_the_processes_and_proxy_settings() -> None:
    argv = uvicorn_argv(
        GatewayOptions(processes=4, forwarded_allow_ips="10.0.0.0/8", port=9000)
    )
    assert argv[argv.index("--workers") + 1] == "4"
    assert argv[argv.index("--port") + 1] == "9000"
    assert argv[argv.index("--forwarded-allow-ips") + 1] == "10.0.0.0/8"
    assert "--proxy-headers" in argv
    assert "--workers" not in uvicorn_argv(GatewayOptions())


def test_the_command_exits_2_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESPER_DATABASE_URL", "sqlite+aiosqlite:///x.db")
    monkeypatch.setenv("ESPER_LEYLINE_SECRET", SECRET)
    result = CliRunner().invoke(cli, ["gateway"])
    assert result.exit_code == 2
    assert "refusing to start" in result.output
    assert "SQLite" in result.output
