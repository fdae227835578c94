"""Telemetry history: keyset pages and deterministic min/max/last buckets."""

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas import PacketKind, TelemetryPacket
from api_schemas.telemetry import TelemetryBucket, TelemetryPage, TelemetrySeries
from app.errors import Unprocessable
from app.telemetry.store import COLUMNS, C, after_cursor, to_row


def glob_to_like(glob: str) -> str:
    """fnmatch `*`/`?` as SQL LIKE (portable); character classes are refused."""
    if "[" in glob:
        raise Unprocessable(
            "History filters support `*` and `?` only.",
            code="unsupported_glob",
            details={"glob": glob},
        )
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


@dataclass(frozen=True)
class StepRange:
    """Inclusive step bounds, either open; packets without a step fall outside
    any bounded range."""

    first: int | None = None
    last: int | None = None

    @classmethod
    def checked(cls, first: int | None, last: int | None) -> "StepRange":
        if first is not None and last is not None and first > last:
            raise Unprocessable(
                f"step_from ({first}) is after step_to ({last}).",
                code="invalid_step_range",
                details={"step_from": first, "step_to": last},
            )
        return cls(first, last)

    def narrow(self, query: Select[Any]) -> Select[Any]:
        if self.first is not None:
            query = query.where(C.step >= self.first)
        if self.last is not None:
            query = query.where(C.step <= self.last)
        return query


def _filtered(query: Select[Any], names: str | None) -> Select[Any]:
    globs = [g.strip() for g in (names or "").split(",") if g.strip()]
    if not globs:
        return query
    return query.where(or_(*[C.name.like(glob_to_like(g), escape="\\") for g in globs]))


async def page(
    session: AsyncSession,
    run_id: str,
    *,
    after: str | None,
    names: str | None,
    kind: PacketKind | None,
    limit: int,
    steps: StepRange = StepRange(),
) -> TelemetryPage:
    """Packets after `after`, oldest first; `next_cursor` resumes the listing."""
    query = select(*COLUMNS).where(C.run_id == run_id, after_cursor(after or "0-0"))
    if kind is not None:
        query = query.where(C.kind == kind.value)
    query = steps.narrow(_filtered(query, names)).order_by(C.cursor_ms, C.cursor_seq)
    rows = [to_row(r) for r in (await session.execute(query.limit(limit + 1))).all()]
    items = [TelemetryPacket.model_validate(r.packet()) for r in rows[:limit]]
    more = len(rows) > limit
    return TelemetryPage(items=items, next_cursor=items[-1].cursor if more else None)


async def series(
    session: AsyncSession,
    run_id: str,
    *,
    names: str | None,
    resolution: int,
    steps: StepRange = StepRange(),
) -> TelemetrySeries:
    """Per metric name, its step range (within `steps`) split into `resolution`
    equal-width buckets, each with min, max, count and the last value by cursor."""
    points = select(C.name, C.step, C.value, C.cursor_ms, C.cursor_seq).where(
        C.run_id == run_id,
        C.kind == PacketKind.metric.value,
        C.value.is_not(None),
        C.step.is_not(None),
    )
    query = steps.narrow(_filtered(points, names))
    query = query.order_by(C.name, C.cursor_ms, C.cursor_seq)
    by_name: dict[str, list[tuple[int, float]]] = defaultdict(list)
    highest: tuple[int, int] | None = None
    for name, step, value, ms, seq in (await session.execute(query)).all():
        by_name[name].append((step, value))
        highest = max(highest or (ms, seq), (ms, seq))
    buckets = [
        b for name in sorted(by_name) for b in _buckets(name, by_name[name], resolution)
    ]
    cursor = f"{highest[0]}-{highest[1]}" if highest else None
    return TelemetrySeries(resolution=resolution, buckets=buckets, cursor=cursor)


def _buckets(
    name: str, points: list[tuple[int, float]], resolution: int
) -> list[TelemetryBucket]:
    """`points` in cursor order; empty buckets are omitted."""
    lo = min(step for step, _ in points)
    hi = max(step for step, _ in points)
    width = -(-(hi - lo + 1) // resolution)  # ceiling division
    found: dict[int, TelemetryBucket] = {}
    for step, value in points:
        index = (step - lo) // width
        bucket = found.get(index)
        if bucket is None:
            start = lo + index * width
            found[index] = TelemetryBucket(
                name=name,
                step_start=start,
                step_end=min(hi, start + width - 1),
                min=value,
                max=value,
                last=value,
                count=1,
            )
            continue
        bucket.min, bucket.max = min(bucket.min, value), max(bucket.max, value)
        bucket.last, bucket.count = value, bucket.count + 1
    return [found[i] for i in sorted(found)]
