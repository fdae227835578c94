"""Issuing commands: validation, idempotency, the signed envelope, the ledger
row (its own outbox entry, sent once the request commits); ledger reads."""

import secrets
import time

from pydantic import BaseModel
from sqlalchemy import and_, bindparam, insert, or_
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import RunState
from api_schemas.bus import SignedCommand
from api_schemas.catalogue import BLUEPRINTS_BY_NAME, task_slots
from api_schemas.commands import EmergencyHalt, SeedEnable, command_params
from api_schemas.enums import LIVE_RUN_STATE_VALUES, TERMINAL_RUN_STATE_VALUES
from api_schemas.signing import sign
from app.bus.outbox import enqueue
from app.commands.outbox import COMMAND_ENVELOPES
from app.errors import Conflict, Unprocessable
from app.idempotency import request_hash
from app.leyline import keyring
from app.models import Command, Run
from app.models._types import as_utc
from app.pagination import decode_keyset, encode_cursor
from app.runs.ending import end_if_queued
from app.runs.service import ensure_live, run_or_404
from app.settings import Settings

_COMMAND = Command.__table__  # type: ignore[attr-defined]
_RUN = Run.__table__  # type: ignore[attr-defined]
# The ledger row, inserted only while its run exists and is not terminal: the
# run check rides on the INSERT instead of a SELECT before it (about 0.6 ms
# of every command on the 2-core VM, and no window between check and write).
# The row's attempt is the run's, read by the same statement.
_INSERT_IF_LIVE = insert(_COMMAND).from_select(
    [column.name for column in _COMMAND.columns],
    core_select(
        *(
            _RUN.c.attempt
            if column.name == "attempt"
            else bindparam(column.name, type_=column.type)
            for column in _COMMAND.columns
        )
    ).where(
        _RUN.c.id == bindparam("target_run"),
        _RUN.c.state.not_in(TERMINAL_RUN_STATE_VALUES),
    ),
)


def validate_command(run: Run, body: BaseModel) -> None:
    if isinstance(body, SeedEnable):
        if body.blueprint not in BLUEPRINTS_BY_NAME:
            raise Unprocessable(
                f"Unknown blueprint {body.blueprint!r}.", code="unknown_blueprint"
            )
        spec = run.spec or {}
        model = spec.get("model") or {}
        host = (model.get("options") or {}).get("host")
        slots = task_slots(spec.get("task", ""), model.get("depth"), host)
        if slots is not None and body.slot not in slots:
            raise Unprocessable(
                f"Unknown slot {body.slot!r}; this run has {slots}.",
                code="unknown_slot",
            )


async def _idempotent_replay(
    session: AsyncSession, key: str | None, digest: str
) -> Command | None:
    if key is None:
        return None
    existing = (
        await session.exec(select(Command).where(Command.idempotency_key == key))
    ).first()
    if existing is not None and existing.request_hash != digest:
        raise Conflict(
            "Idempotency-Key was used with a different body.",
            code="idempotency_conflict",
        )
    return existing


def sign_envelope(command: Command, keys: dict[str, str], key_id: str) -> str:
    """The signed message the worker verifies: the command's bus envelope."""
    signed = sign(
        SignedCommand(
            id=command.id,
            run_id=command.run_id,
            type=command.type,
            params=command.params,
            nonce=command.nonce,
            issued_at=time.time(),
            key_id=key_id,
        ),
        keys,
    )
    return signed.model_dump_json()


async def create_command(
    session: AsyncSession,
    *,
    run_id: str | None,
    body: BaseModel,
    issued_by: str,
    keys: dict[str, str],
    key_id: str,
    idem_key: str | None = None,
) -> tuple[Command, bool]:
    """Commit-ready ledger row, its signed envelope in it; (command, created).

    For a run, the check that it exists and is not terminal is part of the
    INSERT (404 or 409 are worked out only when nothing was inserted); only a
    seed_enable loads the run first, for its slots. `run_id=None` broadcasts.
    """
    if isinstance(body, SeedEnable) and run_id is not None:
        run = await run_or_404(session, run_id)
        ensure_live(run)
        validate_command(run, body)
    command, created = await _replayed_or_new(
        session, run_id, body, issued_by, idem_key
    )
    if not created:
        return command, False
    command.envelope = sign_envelope(command, keys, key_id)
    if run_id is None:
        session.add(command)
        await session.flush()
    elif await end_if_queued(session, command):
        return command, True  # a run no worker started, ended: nothing to send
    else:
        await _insert_if_live(session, command, run_id)
    enqueue(session, COMMAND_ENVELOPES.message(command))
    return command, True


async def issue(
    session: AsyncSession,
    settings: Settings,
    *,
    run_id: str | None,
    body: BaseModel,
    issued_by: str,
    idem_key: str | None = None,
) -> tuple[Command, bool]:
    """`create_command` signed with the gateway's current key."""
    return await create_command(
        session,
        run_id=run_id,
        body=body,
        issued_by=issued_by,
        keys=keyring(settings),
        key_id=settings.leyline_key_id,
        idem_key=idem_key,
    )


async def halt_all(
    session: AsyncSession, settings: Settings, issued_by: str
) -> list[Command]:
    """One `emergency_halt` for every run not yet terminal."""
    body = EmergencyHalt(type="emergency_halt", reason="fleet emergency halt")
    commands = []
    for run in await _live_runs(session):
        command, _ = await issue(
            session, settings, run_id=run.id, body=body, issued_by=issued_by
        )
        commands.append(command)
    return commands


async def _insert_if_live(session: AsyncSession, command: Command, run_id: str) -> None:
    values = {column.name: getattr(command, column.name) for column in _COMMAND.columns}
    connection = await session.connection()  # Core: no ORM work around it
    inserted = await connection.execute(
        _INSERT_IF_LIVE, {**values, "target_run": run_id}
    )
    if inserted.rowcount != 1:
        ensure_live(await run_or_404(session, run_id))  # raises 404 or 409
        # A terminal state is final, so the run cannot have become live since.
        raise Conflict(f"Run {run_id} took no command.", code="run_terminal")


async def _replayed_or_new(
    session: AsyncSession,
    run_id: str | None,
    body: BaseModel,
    issued_by: str,
    idem_key: str | None,
) -> tuple[Command, bool]:
    """The command an earlier request with this Idempotency-Key made (False),
    or a new one, not yet written (True)."""
    body_json = body.model_dump(mode="json")
    digest = request_hash({"run": run_id, **body_json})
    existing = await _idempotent_replay(session, idem_key, digest)
    if existing is not None:
        return existing, False
    return Command(
        run_id=run_id,
        type=body_json["type"],
        params=command_params(body),
        issued_by=issued_by,
        nonce=secrets.token_hex(16),
        idempotency_key=idem_key,
        request_hash=digest,
    ), True


async def _live_runs(session: AsyncSession) -> list[Run]:
    """Every run not yet terminal. An IN list, not NOT IN over the terminal
    states: most runs are terminal, and IN uses the state index."""
    states = LIVE_RUN_STATE_VALUES | {RunState.queued.value}
    query = select(Run).where(col(Run.state).in_(states))
    return list((await session.exec(query)).all())


async def list_commands(
    session: AsyncSession, run_id: str, limit: int, cursor: str | None
) -> tuple[list[Command], str | None]:
    """Oldest first (a ledger reads forwards), keyset on (issued_at, id)."""
    query = select(Command).where(Command.run_id == run_id)
    if cursor:
        at, command_id = decode_keyset(cursor)
        query = query.where(
            or_(
                col(Command.issued_at) > at,
                and_(col(Command.issued_at) == at, col(Command.id) > command_id),
            )
        )
    query = query.order_by(col(Command.issued_at), col(Command.id)).limit(limit + 1)
    rows = list((await session.exec(query)).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    issued_at = as_utc(rows[-1].issued_at)
    assert issued_at is not None
    return rows, encode_cursor(issued_at.isoformat(), rows[-1].id)
