"""Commands: issue to a run (optionally waiting for the ack), read the ledger,
and the fleet-wide emergency halt and registry reset."""

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api_schemas import CommandBatch, CommandPage, CommandRead
from api_schemas.commands import CommandCreate, RegistryReset
from app.commands.ledger import command_read
from app.commands.service import halt_all, issue, list_commands
from app.deps import (
    Admin,
    Operator,
    SessionDep,
    SettingsDep,
    Viewer,
    Writes,
    WritesDep,
)
from app.errors import ERRORS, NotFound
from app.idempotency import IdempotencyKey, scoped_key
from app.models import Command
from app.pagination import CursorQuery, LimitQuery
from app.runs.deps import RunDep

router = APIRouter(prefix="/api/v1", tags=["commands"])
WaitQuery = Annotated[
    float, Query(ge=0, le=30, description="Seconds to wait for the ack.")
]


@router.post(
    "/runs/{run_id}/commands",
    status_code=202,
    operation_id="create_command",
    responses={
        200: {"model": CommandRead, "description": "Acked within wait."},
        **ERRORS,
    },
)
async def create_run_command(
    principal: Operator,
    body: CommandCreate,
    run_id: str,
    request: Request,
    response: Response,
    settings: SettingsDep,
    writes: WritesDep,
    wait: WaitQuery = 0,
    idempotency_key: IdempotencyKey = None,
) -> CommandRead:
    """Issue a signed command to a run; with `wait`, 200 once the worker acks it."""
    # No RunDep: the run's existence and state are checked by the INSERT
    # (one statement fewer on an emergency halt's path).
    command, _ = await issue(
        writes.session,
        settings,
        run_id=run_id,
        body=body,
        issued_by=principal.key_id,
        idem_key=scoped_key(principal.key_id, idempotency_key),
    )
    if wait <= 0:
        return command_read(command)
    read = await relay_and_wait(request, command, writes, wait)
    if read.state.final:
        response.status_code = 200
    return read


async def relay_and_wait(
    request: Request, command: Command, writes: Writes, wait: float
) -> CommandRead:
    """Commit and relay the command, and wait up to `wait` s for its ack.

    The waiter is registered before the relay: the worker's ack can arrive
    while the relay is still recording the dispatch, and an ack that came
    before the registration would go unnoticed until the next poll.
    """
    waiters = request.app.state.waiters
    acked = waiters.register(command.id)
    try:
        sent_at = await writes.commit_and_send()
        read = await wait_for_ack(request, command, acked, wait)
    finally:
        waiters.discard(command.id, acked)
    if read.dispatched_at is None and sent_at is not None:
        # The ack was committed before the relay recorded the dispatch.
        read = read.model_copy(update={"dispatched_at": sent_at})
    return read


async def wait_for_ack(
    request: Request,
    command: Command,
    acked: "asyncio.Future[CommandRead]",
    wait: float,
) -> CommandRead:
    """The acked command, handed over by this gateway's event consumer; a poll
    every 50 ms covers an ack applied by another replica.

    Each poll reads in a short session of its own: holding the request's session
    open for the whole wait kept a SQLite transaction alive and stalled the event
    consumer's writes (the very ack this waits for) until the wait ran out.
    """
    maker = request.app.state.sessionmaker
    read = command_read(command)
    deadline = time.monotonic() + wait
    while not read.state.final and (left := deadline - time.monotonic()) > 0:
        done, _ = await asyncio.wait({acked}, timeout=min(0.05, left))
        if done:
            return acked.result()
        async with maker() as poll:
            current = await poll.get(Command, command.id)
        if current is not None:
            read = command_read(current)
    return read


@router.get(
    "/runs/{run_id}/commands", operation_id="list_run_commands", responses=ERRORS
)
async def list_run_commands(
    _: Viewer,
    run: RunDep,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> CommandPage:
    """The run's command ledger, oldest first."""
    rows, next_cursor = await list_commands(session, run.id, limit, cursor)
    return CommandPage(items=[command_read(c) for c in rows], next_cursor=next_cursor)


@router.get("/commands/{command_id}", operation_id="get_command", responses=ERRORS)
async def get_command(command_id: str, session: SessionDep, _: Viewer) -> CommandRead:
    """One command with its state, timestamps and outcome."""
    command = await session.get(Command, command_id)
    if command is None:
        raise NotFound(f"No command {command_id}.", code="command_not_found")
    return command_read(command)


@router.post(
    "/emergency/halt",
    status_code=202,
    operation_id="emergency_halt_all",
    responses=ERRORS,
)
async def emergency_halt_all(
    principal: Admin, settings: SettingsDep, writes: WritesDep
) -> CommandBatch:
    """Halt every live run now (one `emergency_halt` command per run)."""
    commands = await halt_all(writes.session, settings, issued_by=principal.key_id)
    return CommandBatch(commands=[command_read(c) for c in commands])


@router.post(
    "/registry/reset", status_code=202, operation_id="registry_reset", responses=ERRORS
)
async def registry_reset(
    principal: Admin, settings: SettingsDep, writes: WritesDep
) -> CommandRead:
    """Broadcast: every worker clears its blueprint cache and nonce ledger."""
    command, _ = await issue(
        writes.session,
        settings,
        run_id=None,
        body=RegistryReset(type="registry_reset"),
        issued_by=principal.key_id,
    )
    return command_read(command)
