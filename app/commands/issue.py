"""Issuing commands from a route: signed with the gateway's current key and
written in the gateway's write turn, committed before they are relayed, and
on the bus before the route answers."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import BackgroundTasks, Request
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.bus.outbox import pending
from app.commands.service import create_command
from app.leyline import keyring
from app.models import Command


@contextlib.asynccontextmanager
async def write_turn(request: Request, session: AsyncSession) -> AsyncIterator[None]:
    """The block's writes in the gateway's write turn (SQLite: one writer at a
    time, so the commit never sleeps behind a background loop's), committed
    before the turn passes on."""
    async with request.app.state.writes.turn():
        yield
        await session.commit()


async def issue(request: Request, session: AsyncSession, *, run_id: str | None,
                body: BaseModel, issued_by: str, **kwargs: Any) -> tuple[Command, bool]:
    """`create_command` signed with the gateway's keyring; (command, created)."""
    settings = request.app.state.settings
    return await create_command(
        session, run_id=run_id, body=body, issued_by=issued_by,
        keys=keyring(settings), key_id=settings.leyline_key_id, **kwargs)


async def relay_committed(request: Request, session: AsyncSession,
                          background: BackgroundTasks) -> None:
    """Put what this request committed on the bus before it answers: a run's
    assignment, a command (an emergency halt is on its way to the worker
    before the client hears 202). The record of the dispatch follows in the
    background; if Redis fails, the relay loop sends it after its grace."""
    relay = request.app.state.relay
    messages = pending(session)
    sent_at = await relay.send(messages)
    background.add_task(relay.record, messages, sent_at)
