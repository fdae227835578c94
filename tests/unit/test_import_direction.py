"""STYLE.md's import direction: app -> api_schemas <- workers, and a pure engine."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = set(sys.stdlib_module_names)


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


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


@pytest.mark.parametrize("source", ["import app.x\n", "from workers import y\n"])
def test_the_checker_sees_imports(tmp_path: Path, source: str) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    assert imported_roots(probe) & {"app", "workers"}
