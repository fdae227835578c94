"""`esper workers|keys|fleet|registry ...`: the fleet and its access."""

from typing import Annotated

import typer
from esper_client.api.commands import emergency_halt_all, registry_reset
from esper_client.api.keys import create_key, list_keys, revoke_key
from esper_client.api.workers import drain_worker, list_workers
from esper_client.models import ApiKeyCreate, Role

from app.cli.client.session import Session, client_command, ok

workers_app = typer.Typer(help="Workers: list, drain.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (admin).", no_args_is_help=True)
fleet_app = typer.Typer(help="Fleet-wide commands (admin).", no_args_is_help=True)
registry_app = typer.Typer(
    help="The workers' registries (admin).", no_args_is_help=True
)
WORKER_COLUMNS = ["id", "hostname", "device", "state", "run_id", "last_heartbeat"]
KEY_COLUMNS = ["id", "name", "role", "created_at", "revoked_at"]
COMMAND_COLUMNS = ["id", "run_id", "type", "state"]


@client_command(workers_app, "list")
def workers_list(session: Session) -> None:
    """Registered workers and what they run."""
    session.show(ok(list_workers.sync_detailed(client=session.sdk)), WORKER_COLUMNS)


@client_command(workers_app, "drain")
def workers_drain(
    session: Session, worker_id: Annotated[str, typer.Argument()]
) -> None:
    """Stop a worker claiming runs; it finishes its run, then reports drained."""
    worker = ok(drain_worker.sync_detailed(worker_id, client=session.sdk))
    session.show(worker, WORKER_COLUMNS)


@client_command(keys_app, "create")
def keys_create(
    session: Session,
    name: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    role: Annotated[
        Role, typer.Option(help="viewer, operator or admin.")
    ] = Role.VIEWER,
) -> None:
    """Create a key; its token is shown once."""
    body = ApiKeyCreate(name=name, role=role)
    created = ok(create_key.sync_detailed(client=session.sdk, body=body))
    session.show(created, ["id", "name", "role", "token"])


@client_command(keys_app, "list")
def keys_list(session: Session) -> None:
    """Every key (no tokens)."""
    session.show(ok(list_keys.sync_detailed(client=session.sdk)), KEY_COLUMNS)


@client_command(keys_app, "revoke")
def keys_revoke(session: Session, key_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a key; its token stops working at once."""
    ok(revoke_key.sync_detailed(key_id, client=session.sdk))
    session.errors.print(f"revoked {key_id}", highlight=False)


@client_command(fleet_app, "halt")
def fleet_halt(session: Session) -> None:
    """Emergency-halt every live run (never rate limited)."""
    batch = ok(emergency_halt_all.sync_detailed(client=session.sdk))
    session.show(batch.commands, COMMAND_COLUMNS)


@client_command(registry_app, "reset")
def registry_reset_(session: Session) -> None:
    """Clear every worker's blueprint cache and command nonce ledger."""
    session.show(ok(registry_reset.sync_detailed(client=session.sdk)), COMMAND_COLUMNS)
