"""STYLE.md's import direction: app -> api_schemas <- workers, a pure engine,
and the user library `esper` over the contracts and the engine only."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = set(sys.stdlib_module_names)


def imported_modules(path: Path) -> set[str]:
    """Every module an absolute import names, dotted in full."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            # `from workers import runner` names the module workers.runner
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def imported_roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path)}


def package_imports(package: str, exclude: str | None = None) -> dict[str, set[str]]:
    files = sorted((ROOT / package).rglob("*.py"))
    return {
        str(f.relative_to(ROOT)): imported_roots(f)
        for f in files
        if exclude is None or exclude not in f.parts
    }


def offenders(imports: dict[str, set[str]], forbidden: set[str]) -> dict[str, set[str]]:
    return {f: roots & forbidden for f, roots in imports.items() if roots & forbidden}


def test_api_schemas_imports_only_pydantic_and_stdlib() -> None:
    allowed = STDLIB | {"pydantic", "api_schemas", "typing_extensions"}
    bad = {
        f: roots - allowed
        for f, roots in package_imports("api_schemas").items()
        if roots - allowed
    }
    assert bad == {}


def test_app_never_imports_workers_or_torch() -> None:
    assert offenders(package_imports("app"), {"workers", "torch"}) == {}


def test_workers_never_import_app() -> None:
    assert offenders(package_imports("workers"), {"app", "fastapi", "sqlmodel"}) == {}


def test_engine_is_pure_torch() -> None:
    forbidden = {
        "esper",  # the user library builds on the engine, not the reverse
        "redis",
        "sqlalchemy",
        "sqlmodel",
        "fastapi",
        "starlette",
        "app",
        "httpx",
        "uvicorn",
    }
    imports = {
        f: r
        for f, r in package_imports("workers").items()
        if f.startswith("workers/engine/")
    }
    assert imports, "workers/engine has no modules"
    assert offenders(imports, forbidden) == {}


def test_engine_imports_no_worker_runtime() -> None:
    """What esper imports of the engine must not pull in the worker runtime."""
    for file in (ROOT / "workers" / "engine").rglob("*.py"):
        for name in imported_modules(file):
            if name == "workers" or name.startswith("workers."):
                assert name.startswith("workers.engine"), (file, name)


def esper_outsiders(imports: set[str]) -> set[str]:
    """What esper may not import: anything but the standard library, torch and
    its file formats, the contracts, and the training engine's modules
    (never the gateway `app` nor the worker runtime: runner, session, bus...)."""
    allowed_roots = STDLIB | {"torch", "safetensors", "fsspec", "esper"}
    allowed_roots |= {"api_schemas"}
    return {
        name
        for name in imports
        if name.split(".")[0] not in allowed_roots
        and not (name == "workers.engine" or name.startswith("workers.engine."))
    }


def test_esper_imports_only_the_contracts_and_the_engine() -> None:
    files = sorted((ROOT / "esper").rglob("*.py"))
    assert files, "esper has no modules"
    bad = {str(f): esper_outsiders(imported_modules(f)) for f in files}
    assert {f: names for f, names in bad.items() if names} == {}


@pytest.mark.parametrize(
    "source",
    ["import app.x\n", "from workers import runner\n", "import redis\n"],
)
def test_the_esper_rule_sees_the_runtime(source: str, tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    assert esper_outsiders(imported_modules(probe))


@pytest.mark.parametrize("source", ["import app.x\n", "from workers import y\n"])
def test_the_checker_sees_imports(tmp_path: Path, source: str) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    assert imported_roots(probe) & {"app", "workers"}
