"""Migration 0003 upgrades a database holding rows of the old checkpoint
table (keyed by the checkpoint id alone) without losing one, after which
another run's checkpoint with an id already used fits; on SQLite and on
PostgreSQL."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.migrate import downgrade, upgrade
from app.settings import Settings

OLD_ROWS = [
    # (id, run_id, step): the old key let one run hold each id
    ("ckpt-000000010", "run-a", 10),
    ("ckpt-000000020", "run-a", 20),
    ("ckpt-000000030", "run-b", 30),
]
COLUMNS = "id, run_id, path, step, epoch, bytes, good, created_at"


def sql(url: str, *statements: str, params: list[dict[str, Any]] | None = None) -> Any:
    """Run statements in one transaction; the last one's rows."""

    async def go() -> Any:
        engine = create_async_engine(Settings(database_url=url).async_database_url)
        async with engine.begin() as conn:
            for statement in statements[:-1]:
                await conn.execute(text(statement), params or [{}])
            result = await conn.execute(text(statements[-1]), params or [{}])
            rows = result.fetchall() if result.returns_rows else None
        await engine.dispose()
        return rows

    with ThreadPoolExecutor(max_workers=1) as pool:  # no loop may run here
        return pool.submit(asyncio.run, go()).result()


def old_row(ckpt_id: str, run_id: str, step: int) -> dict[str, Any]:
    return {
        "id": ckpt_id,
        "run_id": run_id,
        "path": f"/var/checkpoints/{run_id}/{ckpt_id}",
        "step": step,
        "epoch": 1,
        "bytes": 1000 + step,
        "good": True,
        "created_at": datetime(2026, 11, 1, tzinfo=UTC),
    }


def check_upgrade(url: str) -> None:
    upgrade(url, "0002")
    rows = [old_row(*r) for r in OLD_ROWS]
    insert = f"INSERT INTO checkpoint ({COLUMNS}) VALUES " + (
        "(:id, :run_id, :path, :step, :epoch, :bytes, :good, :created_at)"
    )
    sql(url, insert, params=rows)
    upgrade(url)
    query = f"SELECT {COLUMNS}, sha256, val_accuracy FROM checkpoint ORDER BY step"
    found = sql(url, query)
    assert [(r.id, r.run_id, r.path, r.step, r.bytes) for r in found] == [
        (r["id"], r["run_id"], r["path"], r["step"], r["bytes"]) for r in rows
    ]
    assert all(r.sha256 is None and r.val_accuracy is None for r in found)
    # The bug: another run's checkpoint at a used step. Now it is its own row.
    sql(url, insert, params=[old_row("ckpt-000000010", "run-b", 10)])
    assert sql(url, "SELECT COUNT(*) FROM checkpoint")[0][0] == 4
    # Down again: the old key holds one row per id.
    downgrade(url, "0002")
    ids = sql(url, "SELECT id, run_id FROM checkpoint ORDER BY id")
    assert [tuple(r) for r in ids] == [
        ("ckpt-000000010", "run-b"),
        ("ckpt-000000020", "run-a"),
        ("ckpt-000000030", "run-b"),
    ]
    upgrade(url)


def test_sqlite_upgrade_keeps_every_checkpoint_row(tmp_path: Path) -> None:
    check_upgrade(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_keeps_every_checkpoint_row(postgres_db_url: str) -> None:
    check_upgrade(postgres_db_url)
