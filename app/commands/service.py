"""The command ledger: validation, idempotency, signing into the outbox, reads."""

import secrets
import time
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import CommandRead, CommandState, CommandType, RunState
from api_schemas.bus import BROADCAST_STREAM, SignedCommand, command_stream
from api_schemas.catalogue import BLUEPRINTS_BY_NAME, task_slots
from api_schemas.commands import SeedEnable, command_params
from api_schemas.signing import sign
from app.bus.outbox import enqueue
from app.errors import Conflict, Unprocessable
from app.idempotency import request_hash
from app.models import Command, Outbox, Run
from app.models._types import as_utc
from app.pagination import decode_cursor, encode_cursor
from app.runs.service import ensure_live


def validate_command(run: Run, body: BaseModel) -> None:
    if isinstance(body, SeedEnable):
        if body.blueprint not in BLUEPRINTS_BY_NAME:
            raise Unprocessable(
                f"Unknown blueprint {body.blueprint!r}.", code="unknown_blueprint"
            )
        spec = run.spec or {}
        slots = task_slots(spec.get("task", ""), (spec.get("model") or {}).get("depth"))
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


def _outbox_row(command: Command, keys: dict[str, str], key_id: str) -> Outbox:
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
    stream = command_stream(command.run_id) if command.run_id else BROADCAST_STREAM
    return Outbox(
        stream=stream,
        data=signed.model_dump_json(),
        run_id=command.run_id,
        command_id=command.id,
    )


async def create_command(
    session: AsyncSession,
    *,
    run: Run | None,
    body: BaseModel,
    issued_by: str,
    keys: dict[str, str],
    key_id: str,
    idem_key: str | None = None,
) -> tuple[Command, bool]:
    """Commit-ready ledger row plus its signed outbox message; (command, created)."""
    if run is not None:
        ensure_live(run)
        validate_command(run, body)
    body_json = body.model_dump(mode="json")
    digest = request_hash({"run": run.id if run else None, **body_json})
    existing = await _idempotent_replay(session, idem_key, digest)
    if existing is not None:
        return existing, False
    command = Command(
        run_id=run.id if run else None,
        type=body_json["type"],
        params=command_params(body),
        issued_by=issued_by,
        nonce=secrets.token_hex(16),
        idempotency_key=idem_key,
        request_hash=digest,
    )
    session.add(command)
    enqueue(session, _outbox_row(command, keys, key_id))
    await session.flush()
    return command, True


async def live_runs(session: AsyncSession) -> list[Run]:
    states = [RunState.queued, RunState.assigned, RunState.running, RunState.paused]
    query = select(Run).where(col(Run.state).in_([s.value for s in states]))
    return list((await session.exec(query)).all())


async def list_commands(
    session: AsyncSession, run_id: str, limit: int, cursor: str | None
) -> tuple[list[Command], str | None]:
    """Oldest first (a ledger reads forwards), keyset on (issued_at, id)."""
    query = select(Command).where(Command.run_id == run_id)
    if cursor:
        issued, command_id = decode_cursor(cursor, 2)
        at = datetime.fromisoformat(issued)
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


def command_read(command: Command) -> CommandRead:
    data: dict[str, Any] = {
        "id": command.id,
        "run_id": command.run_id,
        "type": CommandType(command.type),
        "params": command.params or {},
        "state": CommandState(command.state),
        "issued_by": command.issued_by,
        "issued_at": as_utc(command.issued_at),
        "dispatched_at": as_utc(command.dispatched_at),
        "acked_at": as_utc(command.acked_at),
        "result": command.result or {},
        "reason": command.reason,
    }
    return CommandRead.model_validate(data)
