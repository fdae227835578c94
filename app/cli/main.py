"""`esper`: up, worker, migrate, version."""

import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.cli.up import LocalStack, UpOptions

cli = typer.Typer(
    help="Esper: a control plane for morphogenetic training.",
    no_args_is_help=True,
    add_completion=False,
)


@cli.command()
def up(
    host: Annotated[str, typer.Option(help="Gateway bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Gateway port.")] = 8000,
    workers: Annotated[int, typer.Option(min=0, help="Worker processes.")] = 1,
    data_dir: Annotated[Path, typer.Option(help="SQLite, Redis data, logs.")] = Path(
        "./var"
    ),
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Submit and follow a demo run.")
    ] = True,
    device: Annotated[
        str, typer.Option(help="Worker device: cpu|cuda|cuda:N|auto.")
    ] = "cpu",
) -> None:
    """Start the all-in-one local stack; Ctrl-C stops everything it started."""
    opts = UpOptions(
        host=host,
        port=port,
        workers=workers,
        data_dir=data_dir,
        demo=demo,
        device=device,
    )
    raise typer.Exit(LocalStack(opts, Console(soft_wrap=True)).run())


@cli.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def worker(
    ctx: typer.Context,
    device: Annotated[str, typer.Option(help="cpu|cuda|cuda:N|auto")] = "auto",
    worker_id: Annotated[str | None, typer.Option(help="Stable id.")] = None,
) -> None:
    """Run one worker (exec `python -m workers` with the same arguments)."""
    argv = [sys.executable, "-m", "workers", "--device", device]
    if worker_id:
        argv += ["--worker-id", worker_id]
    os.execv(sys.executable, argv + list(ctx.args))


@cli.command()
def migrate(
    database_url: Annotated[
        str | None, typer.Option(help="Default: ESPER_DATABASE_URL.")
    ] = None,
) -> None:
    """Apply database migrations (alembic upgrade head)."""
    from app.migrate import upgrade  # noqa: PLC0415
    from app.settings import Settings  # noqa: PLC0415

    url = database_url or Settings().database_url
    upgrade(url)
    Console().print(f"migrated {url}")


@cli.command()
def version() -> None:
    """Print the installed version."""
    try:
        Console().print(f"esper {metadata.version('esper')}")
    except metadata.PackageNotFoundError:
        Console().print("esper (not installed; running from source)")


def main() -> None:
    cli()
