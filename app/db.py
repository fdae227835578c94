"""Async engine and session factories; the request session commits at the end."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from app import background
from app.settings import Settings


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # WAL lets readers proceed while the event consumer writes; busy_timeout makes
    # concurrent writers wait instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # No automatic checkpoints: SQLite runs one inside whichever commit pushes
    # the WAL past 1000 pages, and that commit (an operator's command, an ack)
    # then waits tens of milliseconds for the fsync. `checkpoint_forever` does
    # it on its own connection instead.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


log = logging.getLogger("esper.db")


async def checkpoint_forever(engine: AsyncEngine, interval_s: float = 1.0) -> None:
    """SQLite only: copy the WAL into the database once a second, off every
    request's path. PASSIVE never blocks readers or writers."""

    async def checkpoint() -> None:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    await asyncio.sleep(interval_s)
    await background.run_forever(
        checkpoint, log=log, error="WAL checkpoint failed", every_s=interval_s
    )


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.async_database_url
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 10})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def session_scope(
    maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One session per request: commit if the handler returned, roll back if not."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class SerialWrites:
    """Sessions for the gateway's background loops (event consumer, outbox
    relay, persister, reaper), one at a time on SQLite.

    SQLite has one write lock, and a writer that finds it taken sleeps in
    growing steps (1, 2, 5, 10, 15 ms...) before it looks again: an ack's
    commit that met a telemetry chunk's commit waited 10-80 ms for a lock
    that was free again in two. Queued here instead, each loop waits only for
    the transaction ahead of it. On PostgreSQL (row locks) it is a plain
    session factory. A holder must not open a second one (not re-entrant).
    """

    def __init__(self, maker: async_sessionmaker[AsyncSession], serial: bool) -> None:
        self._maker = maker
        self._lock = asyncio.Lock() if serial else None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """The write turn alone, for a request that writes in its own session
        (and commits before it lets go)."""
        if self._lock is None:
            yield
            return
        async with self._lock:
            yield

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with contextlib.AsyncExitStack() as stack:
            if self._lock is not None:
                await stack.enter_async_context(self._lock)
            yield await stack.enter_async_context(self._maker())
