"""The client half of `esper`: runs, workers, keys, fleet, registry, login.

Built on the generated SDK (clients/python, `esper_client`), never on raw
routes, so the CLI breaks in a test when the contract changes under it. Each
module registers one typer sub-app on the `esper` command (`register`).
"""

import typer

CLIENT_APPS = ("runs", "workers", "keys", "fleet", "registry")


def register(cli: typer.Typer) -> None:
    """Add the client sub-apps to the `esper` command (stubs that say what to
    install when the SDK is missing, so `esper up` still starts without it)."""
    try:
        from app.cli.client.admin import fleet_app, keys_app, registry_app, workers_app
        from app.cli.client.login import login
        from app.cli.client.runs import runs_app
    except ImportError as missing:
        for name in CLIENT_APPS:
            cli.add_typer(_stub(str(missing)), name=name)
        return

    cli.add_typer(runs_app, name="runs")
    cli.add_typer(workers_app, name="workers")
    cli.add_typer(keys_app, name="keys")
    cli.add_typer(fleet_app, name="fleet")
    cli.add_typer(registry_app, name="registry")
    cli.command()(login)


def _stub(why: str) -> typer.Typer:
    app = typer.Typer(help="Needs esper-client (pip install ./clients/python).")

    @app.callback(invoke_without_command=True)
    def missing() -> None:
        typer.echo(f"esper-client is not installed ({why})", err=True)
        raise typer.Exit(2)

    return app
