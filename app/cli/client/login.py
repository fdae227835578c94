"""`esper login`: check a gateway URL and token, then save them as a profile."""

from typing import Annotated

import typer
from esper_client.api.keys import whoami

from app.cli.client.connection import DEFAULT_PROFILE, Target, save_profile
from app.cli.client.session import Output, Session, failures_to_exit, ok


def login(
    url: Annotated[str, typer.Option(help="Gateway URL.", envvar="ESPER_URL")],
    token: Annotated[
        str | None,
        typer.Option(help="API token (prompted if not given).", envvar="ESPER_TOKEN"),
    ] = None,
    profile: Annotated[str, typer.Option(help="Profile name.")] = DEFAULT_PROFILE,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="The gateway runs with auth off.")
    ] = False,
) -> None:
    """Save a gateway and token as a profile (checked with GET /whoami first)."""
    if token is None and not no_auth:
        token = typer.prompt("Token", hide_input=True)
    with failures_to_exit():
        session = Session(Target(url.rstrip("/"), token), Output.table)
        who = ok(whoami.sync_detailed(client=session.sdk)).to_dict()
        path = save_profile(profile, session.target.url, token)
    role = who.get("role", "?")
    session.console.print(
        f"logged in to {session.target.url} as key {who.get('key_id')} ({role}); "
        f"profile {profile!r} saved in {path}",
        highlight=False,
    )
