"""The `telemetry` table: batched inserts, keyset reads, frames from rows.

Cursors are Redis stream ids `ms-seq`, stored as two integers so that keyset
order is the stream's order on SQLite and PostgreSQL alike.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, and_, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.enums import TERMINAL_RUN_STATE_VALUES
from api_schemas.telemetry import cursor_key
from app.models import TelemetryRecord
from app.telemetry.frames import dump_frame

TABLE: Table = TelemetryRecord.__table__  # type: ignore[attr-defined]
C = TABLE.c
UNIQUE = ["run_id", "cursor_ms", "cursor_seq"]
TEXT_MAX = 200


@dataclass(frozen=True, slots=True)
class Row:
    run_id: str
    cursor: str
    kind: str
    name: str
    value: float | str | None
    step: int | None
    epoch: int | None
    level: str
    attrs: dict[str, Any]
    ts: datetime

    def packet(self) -> dict[str, Any]:
        ts = self.ts if self.ts.tzinfo else self.ts.replace(tzinfo=UTC)
        return {
            "cursor": self.cursor,
            "run_id": self.run_id,
            "ts": ts.isoformat(),
            "kind": self.kind,
            "name": self.name,
            "value": self.value,
            "step": self.step,
            "epoch": self.epoch,
            "level": self.level,
            "attrs": self.attrs,
        }


COLUMNS = (
    C.run_id,
    C.cursor_ms,
    C.cursor_seq,
    C.kind,
    C.name,
    C.value,
    C.value_text,
    C.step,
    C.epoch,
    C.level,
    C.attrs,
    C.ts,
)


def to_row(r: Any) -> Row:
    value = r.value if r.value is not None else r.value_text
    return Row(
        r.run_id,
        f"{r.cursor_ms}-{r.cursor_seq}",
        r.kind,
        r.name,
        value,
        r.step,
        r.epoch,
        r.level,
        r.attrs or {},
        r.ts,
    )


def row_frame(row: Row) -> tuple[str, str, bool]:
    final = row.kind == "state" and row.value in TERMINAL_RUN_STATE_VALUES
    return row.cursor, dump_frame(row.packet()), final


def after_cursor(cursor: str) -> ColumnElement[bool]:
    ms, seq = cursor_key(cursor)
    return or_(C.cursor_ms > ms, and_(C.cursor_ms == ms, C.cursor_seq > seq))


def before_cursor(cursor: str, inclusive: bool = False) -> ColumnElement[bool]:
    ms, seq = cursor_key(cursor)
    last = C.cursor_seq <= seq if inclusive else C.cursor_seq < seq
    return or_(C.cursor_ms < ms, and_(C.cursor_ms == ms, last))


async def rows_between(
    session: AsyncSession, run_id: str, after: str, before: str | None, limit: int
) -> list[Row]:
    """Rows with after < cursor (< before), oldest first."""
    query = select(*COLUMNS).where(C.run_id == run_id, after_cursor(after))
    if before is not None:
        query = query.where(before_cursor(before))
    query = query.order_by(C.cursor_ms, C.cursor_seq).limit(limit)
    return [to_row(r) for r in (await session.execute(query)).all()]


async def has_row_at_or_before(session: AsyncSession, run_id: str, cursor: str) -> bool:
    query = (
        select(C.id)
        .where(C.run_id == run_id, before_cursor(cursor, inclusive=True))
        .limit(1)
    )
    return (await session.execute(query)).first() is not None


async def last_row_before(
    session: AsyncSession, run_id: str, cursor: str
) -> Row | None:
    """The newest row with a cursor below `cursor`."""
    query = (
        select(*COLUMNS)
        .where(C.run_id == run_id, before_cursor(cursor))
        .order_by(C.cursor_ms.desc(), C.cursor_seq.desc())
        .limit(1)
    )
    found = (await session.execute(query)).first()
    return to_row(found) if found else None


async def count_before(
    session: AsyncSession, run_id: str, cursor: str, skip_name: str
) -> int:
    """Rows below `cursor`, those named `skip_name` (gap rows) aside."""
    query = select(func.count()).where(
        C.run_id == run_id, before_cursor(cursor), C.name != skip_name
    )
    return int((await session.execute(query)).scalar_one())


async def last_cursor(session: AsyncSession, run_id: str) -> str | None:
    query = (
        select(C.cursor_ms, C.cursor_seq)
        .where(C.run_id == run_id)
        .order_by(C.cursor_ms.desc(), C.cursor_seq.desc())
        .limit(1)
    )
    found = (await session.execute(query)).first()
    return f"{found[0]}-{found[1]}" if found else None


def record(run_id: str, cursor: str, data: str) -> dict[str, Any]:
    """A row for one stream entry (the packet JSON as a worker wrote it)."""
    packet = json.loads(data)
    ms, seq = cursor_key(cursor)
    value = packet.get("value")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return {
        "run_id": run_id,
        "cursor_ms": ms,
        "cursor_seq": seq,
        "kind": str(packet.get("kind", "event"))[:16],
        "name": str(packet.get("name", ""))[:TEXT_MAX],
        "value": float(value) if number else None,
        "value_text": None if number or value is None else str(value)[:TEXT_MAX],
        "step": packet.get("step"),
        "epoch": packet.get("epoch"),
        "level": str(packet.get("level") or "info")[:16],
        "attrs": packet.get("attrs") or {},
        "ts": _ts(packet.get("ts")),
    }


def _ts(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def insert_batch(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """One statement for the batch; rows another replica already wrote are skipped
    by the unique (run_id, cursor) index rather than failing the batch."""
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = maker(TABLE).on_conflict_do_nothing(index_elements=UNIQUE)
    await session.execute(statement, rows)


async def prune_before(session: AsyncSession, cutoff: datetime, batch: int) -> int:
    """Delete up to `batch` rows older than `cutoff`; returns how many."""
    ids = select(C.id).where(C.ts < cutoff).limit(batch).scalar_subquery()
    result = await session.execute(delete(TABLE).where(C.id.in_(ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
