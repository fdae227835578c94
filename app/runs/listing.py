"""The runs list: filters (state, label, task, a name search) and a sort on one
column, keyset-paginated so a page never shifts under concurrent inserts."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import RunState
from app.errors import AppError
from app.models import Run
from app.models._types import as_utc
from app.pagination import decode_cursor, decode_keyset, encode_cursor
from app.runs.service import label_clause


class RunSort(StrEnum):
    """A column to sort on; `-` first for descending."""

    created_at = "created_at"
    created_at_desc = "-created_at"
    name = "name"
    name_desc = "-name"
    state = "state"
    state_desc = "-state"
    step = "step"
    step_desc = "-step"


@dataclass(frozen=True)
class RunFilters:
    state: RunState | None = None
    label: str | None = None
    task: str | None = None
    search: str | None = None  # a substring of the name, or an id prefix


def _sort_column(sort: RunSort) -> Any:
    """The sort key; a missing name sorts as the empty string (keyset cursors
    cannot compare with NULL)."""
    field = sort.value.lstrip("-")
    if field == "name":
        return func.coalesce(col(Run.name), "")
    return {"state": col(Run.state), "step": col(Run.step)}.get(field)


def _where(filters: RunFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.state is not None:
        clauses.append(col(Run.state) == filters.state.value)
    if filters.label:
        clauses.append(label_clause(filters.label))
    if filters.task:
        clauses.append(col(Run.spec)["task"].as_string() == filters.task)
    if filters.search:
        text = filters.search.lower()
        clauses.append(
            or_(
                func.lower(func.coalesce(col(Run.name), "")).contains(
                    text, autoescape=True
                ),
                col(Run.id).startswith(text, autoescape=True),
            )
        )
    return clauses


def _after(key: Any, cursor: str, descending: bool) -> ColumnElement[bool]:
    """Rows after the cursor's row in (key, created_at, id) order."""
    if key is None:
        at, run_id = decode_keyset(cursor)
        value: Any = None
    else:
        value, when, run_id = decode_cursor(cursor, 3)
        at, run_id = decode_keyset(encode_cursor(when, run_id))
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise AppError("Malformed cursor.", code="invalid_cursor")
    tail = (col(Run.created_at), col(Run.id))

    def beyond(a: Any, b: Any) -> ColumnElement[bool]:
        return a < b if descending else a > b  # type: ignore[no-any-return]

    rest = or_(beyond(tail[0], at), and_(tail[0] == at, beyond(tail[1], run_id)))
    if key is None:
        return rest
    return or_(beyond(key, value), and_(key == value, rest))


def _cursor_of(run: Run, sort: RunSort) -> str:
    created_at: datetime | None = as_utc(run.created_at)
    assert created_at is not None
    field = sort.value.lstrip("-")
    if field == "created_at":
        return encode_cursor(created_at.isoformat(), run.id)
    value = {"name": run.name or "", "state": run.state, "step": run.step}[field]
    return encode_cursor(value, created_at.isoformat(), run.id)


async def list_runs(
    session: AsyncSession,
    filters: RunFilters,
    *,
    sort: RunSort,
    limit: int,
    cursor: str | None,
) -> tuple[list[Run], str | None]:
    """One page in `sort` order, ties broken by (created_at, id) the same way."""
    descending = sort.value.startswith("-")
    key = _sort_column(sort)
    query = select(Run).where(*_where(filters))
    if cursor:
        query = query.where(_after(key, cursor, descending))
    tail = [col(Run.created_at), col(Run.id)]
    order = ([key] if key is not None else []) + tail
    query = query.order_by(*[c.desc() if descending else c.asc() for c in order])
    rows = list((await session.exec(query.limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _cursor_of(rows[-1], sort)
