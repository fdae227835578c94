"""SerialWrites: the gateway's background writers take turns on SQLite only."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.db import SerialWrites

SESSION = object()  # what the fake maker hands out in place of a session


def recording_maker(log: list[str]) -> Any:
    @contextlib.asynccontextmanager
    async def maker() -> AsyncIterator[object]:
        log.append("open")
        await asyncio.sleep(0.01)  # a transaction in flight
        yield SESSION
        log.append("close")

    return maker


async def two_writers(serial: bool) -> list[str]:
    log: list[str] = []
    writes = SerialWrites(recording_maker(log), serial=serial)

    async def write() -> None:
        async with writes() as session:
            assert session is SESSION
            await asyncio.sleep(0.01)

    await asyncio.gather(write(), write())
    return log


@pytest.mark.asyncio
async def test_on_sqlite_one_writer_finishes_before_the_next_starts() -> None:
    assert await two_writers(serial=True) == ["open", "close", "open", "close"]


@pytest.mark.asyncio
async def test_on_postgresql_writers_overlap() -> None:
    assert await two_writers(serial=False) == ["open", "open", "close", "close"]


@pytest.mark.asyncio
async def test_a_request_turn_excludes_background_writers() -> None:
    log: list[str] = []
    writes = SerialWrites(recording_maker(log), serial=True)

    async def request() -> None:
        async with writes.turn():
            log.append("request")
            await asyncio.sleep(0.02)
            log.append("request done")

    async def background() -> None:
        await asyncio.sleep(0.001)
        async with writes():
            pass

    await asyncio.gather(request(), background())
    assert log == ["request", "request done", "open", "close"]
