"""The `seed` table: lineage packets applied inside the persister's transaction.

The persister calls `apply_rows` with the history rows of one chunk, in the
same transaction that inserts them, so the lineage and the history advance
together: a restarted gateway resumes both from the newest history row.
Two replicas may apply the same chunk: a new seed's row is inserted with ON
CONFLICT DO NOTHING, the rows are then read FOR UPDATE (PostgreSQL; on
SQLite the history insert already holds the one write lock), and each row's
cursor skips what the other replica applied first.
"""

import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Seed
from app.seeds import lineage
from app.seeds.lineage import Packet

log = logging.getLogger("esper.seeds")
TABLE: Table = Seed.__table__  # type: ignore[attr-defined]


async def apply_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Apply the seed packets among `rows` (telemetry history rows, stream
    order); returns how many changed a seed. Flushes, never commits."""
    by_run: dict[str, list[Packet]] = defaultdict(list)
    for row in rows:
        found = lineage.packet(row)
        if found is not None:
            by_run[found.run_id].append(found)
    applied = 0
    for run_id, packets in by_run.items():
        applied += await _apply_run(session, run_id, packets)
    return applied


async def _apply_run(session: AsyncSession, run_id: str, packets: list[Packet]) -> int:
    named = {i for p in packets for i in p.seed_ids()}
    whole_run = any(p.name == lineage.RESTORED for p in packets)
    if not named and not whole_run:
        return 0
    await _insert_new(session, packets)
    seeds = await _locked(session, run_id, named, whole_run)
    applied = 0
    for p in packets:
        # A restore speaks for every seed of the run: those it holds and, by
        # leaving them out, those it removed.
        targets = seeds.values() if p.name == lineage.RESTORED else _named(p, seeds)
        for seed in targets:
            try:
                applied += lineage.apply(seed, p)
            except (TypeError, ValueError) as exc:  # one odd packet, not the chunk
                log.warning("seed packet %s skipped: %s", p.cursor, exc)
    session.add_all(seeds.values())
    await session.flush()
    return applied


def _named(p: Packet, seeds: dict[str, Seed]) -> list[Seed]:
    return [seeds[i] for i in p.seed_ids() if i in seeds]


async def _insert_new(session: AsyncSession, packets: list[Packet]) -> None:
    """A row for each seed id the packets name, from the first packet naming
    it; ids that already have one are skipped by the primary key."""
    first: dict[tuple[str, str], Packet] = {}
    for p in packets:
        for seed_id in p.seed_ids():
            first.setdefault((p.run_id, seed_id), p)
    if not first:
        return
    values = [
        _columns(lineage.new_seed(p, seed_id)) for (_, seed_id), p in first.items()
    ]
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = maker(TABLE).on_conflict_do_nothing(
        index_elements=["run_id", "seed_id"]
    )
    await session.execute(statement, values)


def _columns(seed: Seed) -> dict[str, Any]:
    return {c.name: getattr(seed, c.name) for c in TABLE.columns}


async def _locked(
    session: AsyncSession, run_id: str, named: set[str], whole_run: bool
) -> dict[str, Seed]:
    query = select(Seed).where(Seed.run_id == run_id)
    if not whole_run:
        query = query.where(col(Seed.seed_id).in_(named))
    query = query.with_for_update().execution_options(populate_existing=True)
    return {s.seed_id: s for s in (await session.exec(query)).all()}
