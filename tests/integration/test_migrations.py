"""`alembic upgrade head` on an empty database, and `downgrade base` back,
on SQLite and on PostgreSQL; and head is exactly the models' schema."""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers every table on SQLModel.metadata)
from app.migrate import downgrade, upgrade
from app.settings import Settings

T = TypeVar("T")
TABLES = {
    "run",
    "command",
    "worker",
    "outbox",
    "checkpoint",
    "apikey",
    "telemetry",
    "seed",
}


def inspected(url: str, look: Callable[[Connection], T]) -> T:
    async def read() -> T:
        engine = create_async_engine(Settings(database_url=url).async_database_url)
        async with engine.connect() as conn:
            found = await conn.run_sync(look)
        await engine.dispose()
        return found

    with ThreadPoolExecutor(max_workers=1) as pool:  # no loop may run here
        return pool.submit(asyncio.run, read()).result()


def table_names(url: str) -> set[str]:
    return inspected(url, lambda c: set(inspect(c).get_table_names()))


def model_drift(url: str) -> list[Any]:
    """What autogenerate would write: where head differs from the models."""
    return inspected(
        url,
        lambda c: compare_metadata(MigrationContext.configure(c), SQLModel.metadata),
    )


def round_trip(url: str) -> None:
    assert not TABLES & table_names(url)
    upgrade(url)
    assert table_names(url) >= TABLES
    downgrade(url, "base")
    assert table_names(url) <= {"alembic_version"}
    upgrade(url)  # and up again: downgrade left nothing behind
    assert table_names(url) >= TABLES
    assert model_drift(url) == []  # a model change without its migration fails


def test_sqlite_upgrade_and_downgrade(tmp_path: Path) -> None:
    round_trip(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_and_downgrade(postgres_db_url: str) -> None:
    round_trip(postgres_db_url)
