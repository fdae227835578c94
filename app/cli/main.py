"""`esper`: up, gateway, worker, migrate, version; and the client commands
(runs, workers, keys, fleet, registry, login: app/cli/client/).

Each command imports what it runs when it runs: the base install (no gateway,
no torch) must still start the command line.
"""

import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.cli import extras
from app.cli.client import register as register_client_commands
from app.cli.gateway import GatewayOptions, NotProductionReady, run_gateway

cli = typer.Typer(
    help="Esper: a control plane for morphogenetic training.",
    no_args_is_help=True,
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
    extras.require("local", "up")
    from app.cli.up import LocalStack, UpOptions  # noqa: PLC0415 - local extra

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
def gateway(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Bind address.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    processes: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Gateway processes (uvicorn --workers); default WEB_CONCURRENCY "
            "or 1. In containers prefer one per container and more replicas.",
        ),
    ] = None,
    allow_sqlite: Annotated[
        bool, typer.Option(help="Run on SQLite (one host only).")
    ] = False,
    migrate: Annotated[
        bool, typer.Option(help="Apply database migrations first.")
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="Proxy addresses whose X-Forwarded-* headers to trust."),
    ] = None,
) -> None:
    """Run the gateway alone with production settings.

    PostgreSQL, an external Redis and a signing secret are required; extra
    arguments go to uvicorn.
    """
    extras.require("gateway", "gateway")
    opts = GatewayOptions(
        host=host,
        port=port,
        processes=processes,
        allow_sqlite=allow_sqlite,
        migrate=migrate,
        forwarded_allow_ips=forwarded_allow_ips,
        uvicorn_args=list(ctx.args),
    )
    try:
        run_gateway(opts, Console())
    except NotProductionReady as exc:
        Console(stderr=True).print(f"esper gateway: refusing to start: {exc}")
        raise typer.Exit(2) from exc


@cli.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def worker(
    ctx: typer.Context,
    device: Annotated[str, typer.Option(help="cpu|cuda|cuda:N|auto")] = "auto",
    worker_id: Annotated[str | None, typer.Option(help="Stable id.")] = None,
) -> None:
    """Run one worker (exec `python -m workers` with the same arguments)."""
    extras.require("worker", "worker")
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
    extras.require("gateway", "migrate")
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


register_client_commands(cli)


def main() -> None:
    cli()
