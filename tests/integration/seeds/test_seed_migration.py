"""Revision 0004 adds the seed table to a database in use, and takes only it
away again; SQLite and PostgreSQL."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrate import downgrade, upgrade
from app.settings import Settings

TELEMETRY_ROW = (
    "INSERT INTO telemetry (run_id, cursor_ms, cursor_seq, kind, name, level, "
    "attrs, ts) VALUES ('r1', 1, 0, 'event', 'kasmina.seed.stage_changed', "
    "'info', '{}', '2026-01-01 00:00:00')"
)


def on(url: str, sql: str | None = None) -> dict[str, Any]:
    """Run `sql` (if any), then read the seed table's shape and the history."""

    async def go() -> dict[str, Any]:
        engine = create_async_engine(Settings(database_url=url).async_database_url)
        async with engine.begin() as conn:
            if sql:
                await conn.execute(text(sql))
            found = await conn.run_sync(shape)
            found["history"] = (
                await conn.execute(text("SELECT count(*) FROM telemetry"))
            ).scalar_one()
        await engine.dispose()
        return found

    with ThreadPoolExecutor(max_workers=1) as pool:  # alembic runs its own loop
        return pool.submit(asyncio.run, go()).result()


def shape(conn: Any) -> dict[str, Any]:
    look = inspect(conn)
    if "seed" not in look.get_table_names():
        return {"columns": None}
    return {
        "columns": {c["name"] for c in look.get_columns("seed")},
        "key": look.get_pk_constraint("seed")["constrained_columns"],
    }


def check(url: str) -> None:
    upgrade(url, "0003")
    assert on(url, TELEMETRY_ROW) == {"columns": None, "history": 1}
    upgrade(url, "0004")
    after = on(url)
    assert after["history"] == 1  # the history is untouched
    assert after["key"] == ["run_id", "seed_id"]
    assert {"history", "gates", "outcome", "ended_step", "cursor_ms"} <= after[
        "columns"
    ]
    downgrade(url, "0003")
    assert on(url) == {"columns": None, "history": 1}
    upgrade(url)  # and on to head from there


def test_sqlite_seed_table_up_and_down(tmp_path: Path) -> None:
    check(f"sqlite+aiosqlite:///{tmp_path / 'in-use.db'}")


@pytest.mark.postgres
def test_postgres_seed_table_up_and_down(postgres_db_url: str) -> None:
    check(postgres_db_url)
