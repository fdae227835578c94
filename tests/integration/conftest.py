"""Fixtures for tests with real worker subprocesses, and for in-process tests
of the gateway's bus loops against a real, migrated database."""

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import create_engine, create_sessionmaker
from app.migrate import upgrade
from app.settings import Settings
from tests.fixtures.gateway import sqlite_url
from tests.fixtures.stack import WorkerProcess, worker_env

SpawnWorker = Callable[..., WorkerProcess]


@pytest.fixture
def bus(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test's own (flushed) Redis database; str replies."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def spawn_worker(redis_url: str, tmp_path: Path) -> Iterator[SpawnWorker]:
    """Start real `python -m workers` subprocesses; all stopped after the test.

    Their logs are printed at teardown, which pytest shows when a test fails.
    """
    started: list[WorkerProcess] = []

    def spawn(
        device: str = "cpu", worker_id: str | None = None, **env: str
    ) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        handle = WorkerProcess(
            worker_env(redis_url, tmp_path / "data", **env), log, device, worker_id
        ).start()
        started.append(handle)
        return handle

    yield spawn
    for handle in started:
        handle.stop()
        code = handle.proc.returncode if handle.proc else None
        print(f"--- {handle.log_path.name} (exit {code})")
        print(handle.log())


@pytest.fixture(params=["sqlite", "postgres"])
def migrated_database(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings on a fresh database at head, SQLite and PostgreSQL (skipped
    without ESPER_TEST_POSTGRES_URL). Migrated here, outside the test's event
    loop: alembic runs one of its own."""
    url = (
        sqlite_url(tmp_path)
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_db_url")
    )
    upgrade(url)
    return Settings(database_url=url)


@pytest_asyncio.fixture(loop_scope="function")
async def sessions(
    migrated_database: Settings,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on `migrated_database`, as the gateway makes it."""
    engine = create_engine(migrated_database)
    yield create_sessionmaker(engine)
    await engine.dispose()
