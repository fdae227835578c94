"""The command ledger's rules: a row as the API's Command, its `command`
packets, how a worker's ack changes it, and when an open command expires.

`pending (committed) -> dispatched (on the bus) -> applied | rejected | expired`
(ARCHITECTURE.md); the outbox side of it is app/commands/outbox.py.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from api_schemas import CommandRead, CommandState, CommandType, Level, PacketKind
from api_schemas.bus import CommandAckEvent
from api_schemas.enums import TERMINAL_RUN_STATE_VALUES
from app import metrics
from app.bus.publish import Packet, packet_json
from app.models import Command, Run
from app.models._types import as_utc, utcnow

OPEN_COMMAND_STATES = [CommandState.pending.value, CommandState.dispatched.value]
# Expiry reasons: the run ended first; nobody acked within command_expire_s.
RUN_ENDED = "run_ended"
NOT_ACKED = "not_acked"
# How long after its run ended an open command waits for its worker's ack.
SETTLE_GRACE_S = 5.0
_WARN_STATES = (CommandState.rejected.value, CommandState.expired.value)


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


def command_packet(command: Command, read: CommandRead | None = None) -> str:
    """The `command` packet of one ledger transition (`read`: the state to
    announce, when it is not the row's own)."""
    read = read or command_read(command)
    state = read.state.value
    level = Level.warning if state in _WARN_STATES else Level.info
    return packet_json(
        PacketKind.command,
        f"command.{command.type}",
        run_id=command.run_id,
        value=state,
        level=level,
        attrs=read.model_dump(mode="json"),
    )


def record_ack(command: Command, event: CommandAckEvent, received_at: datetime) -> bool:
    """Record a worker's ack; returns whether the ledger changed.

    Broadcast commands collect one ack per worker; the first settles the
    state. A run command's ack after its outcome changes nothing: it is a
    second copy of the command (a relay that lost its record of a send sends
    it again, and the worker rejects the copy as `nonce_replayed`)."""
    settled = CommandState(command.state).final and not _expired_by_gateway(command)
    if command.run_id is None:
        acks = dict((command.result or {}).get("acks", {}))
        acks[event.worker_id] = {"state": event.state.value, "reason": event.reason}
        command.result = {**(command.result or {}), "acks": acks}
    elif settled:
        return False
    else:
        command.result = {**(command.result or {}), **event.result}
    if not settled:
        command.state = event.state.value
        command.reason = event.reason
        command.acked_at = received_at
    return True


def _expired_by_gateway(command: Command) -> bool:
    """The run ended before its worker's ack arrived: the ack is the truth."""
    return command.state == CommandState.expired.value and command.reason == RUN_ENDED


def observe_ack(command: Command, event: CommandAckEvent) -> None:
    metrics.COMMANDS_TOTAL.labels(command.type, event.state.value).inc()
    if event.state == CommandState.rejected and event.reason:
        metrics.COMMAND_REJECTIONS_TOTAL.labels(event.reason).inc()
    issued = as_utc(command.issued_at)
    if issued is not None and command.acked_at is not None:
        seconds = (as_utc(command.acked_at) - issued).total_seconds()  # type: ignore[operator]
        metrics.COMMAND_ACK_SECONDS.labels(command.type).observe(max(0.0, seconds))


async def expire_commands(
    session: AsyncSession, query: SelectOfScalar[Command], reason: str
) -> list[Command]:
    """Expire, with `reason`, the open commands among those `query` selects."""
    open_only = query.where(col(Command.state).in_(OPEN_COMMAND_STATES))
    expired = list((await session.exec(open_only)).all())
    for command in expired:
        command.state = CommandState.expired.value
        command.reason = reason
        command.acked_at = utcnow()
        session.add(command)
    return expired


async def expire_unackable(
    session: AsyncSession, command_expire: timedelta
) -> list[Packet]:
    """Expire the open commands that will never be acked; returns their packets:
    - those on a run that ended a while ago (`run_ended`; the grace lets
      the worker's own acks, sent as the run ends, arrive first);
    - those issued longer ago than `command_expire` (`not_acked`): a run
      no worker took, a worker that never answered. By then a worker
      would refuse them as stale anyway (its freshness window, 300 s by
      default like this), so the ledger cannot call applied one expired.
    """
    now = utcnow()
    ended = (
        select(Command)
        .join(Run, col(Run.id) == col(Command.run_id))
        .where(
            col(Run.state).in_(TERMINAL_RUN_STATE_VALUES),
            col(Run.finished_at) < now - timedelta(seconds=SETTLE_GRACE_S),
        )
    )
    unacked = select(Command).where(col(Command.issued_at) < now - command_expire)
    packets: list[Packet] = []
    for query, reason in ((ended, RUN_ENDED), (unacked, NOT_ACKED)):
        packets += [
            (c.run_id, command_packet(c))
            for c in await expire_commands(session, query, reason)
        ]
    return packets
