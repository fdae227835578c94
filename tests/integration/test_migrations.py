"""`alembic upgrade head` on an empty database, and `downgrade base` back,
on SQLite and on PostgreSQL."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrate import downgrade, upgrade
from app.settings import Settings

TABLES = {"run", "command", "worker", "outbox", "checkpoint", "apikey", "telemetry"}


def table_names(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(Settings(database_url=url).async_database_url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return names

    with ThreadPoolExecutor(max_workers=1) as pool:  # no loop may run here
        return pool.submit(asyncio.run, read()).result()


def round_trip(url: str) -> None:
    assert not TABLES & table_names(url)
    upgrade(url)
    assert table_names(url) >= TABLES
    downgrade(url, "base")
    assert table_names(url) <= {"alembic_version"}
    upgrade(url)  # and up again: downgrade left nothing behind
    assert table_names(url) >= TABLES


def test_sqlite_upgrade_and_downgrade(tmp_path: Path) -> None:
    round_trip(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_and_downgrade(postgres_db_url: str) -> None:
    round_trip(postgres_db_url)
