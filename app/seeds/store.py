"""The `seed` table: lineage packets applied inside the persister's transaction.

The persister hands `SeedLineage.apply` the history rows of each chunk, in the
same transaction that inserts them, so the lineage and the history advance
together: a restarted gateway resumes both from the newest history row.
Two replicas may apply the same chunk: a new seed's row is inserted with ON
CONFLICT DO NOTHING, the rows are read FOR UPDATE (PostgreSQL; on SQLite the
history insert already holds the one write lock), and each row's cursor skips
what the other replica applied first.
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
Key = tuple[str, str]  # (run id, seed id)


class SeedLineage:
    """Applies chunks of packets, remembering the rows as last committed.

    While a seed trains nearly every chunk holds its periodic seed packets,
    which mostly change nothing; judged against the remembered rows such a
    chunk costs no query (a SELECT on SQLite takes ~0.5 ms, as long as the
    chunk's own insert). What is remembered may be behind another replica's
    rows, never ahead of the stream: a packet it judges a no-op is one, or
    one the row's cursor would skip.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._known: dict[Key, Seed] = {}
        self._pending: dict[Key, Seed] = {}
        # Attrs of a report judged a no-op against the remembered row: a
        # training seed's reports repeat them exactly, so one dry run serves.
        self._quiet: dict[Key, dict[str, Any]] = {}
        self._limit = limit

    async def apply(self, session: AsyncSession, rows: list[dict[str, Any]]) -> int:
        """Apply the seed packets among `rows` (history rows, stream order);
        returns how many changed a seed. Flushes, never commits."""
        self._pending.clear()  # a chunk whose commit failed is read again
        applied = 0
        for run_id, packets in _by_run(rows).items():
            if self._unchanged(run_id, packets):
                continue
            seeds, changed = await _apply_run(session, run_id, packets)
            self._pending.update(((run_id, i), _copy(s)) for i, s in seeds.items())
            applied += changed
        return applied

    def committed(self) -> None:
        """The transaction `apply` wrote in has committed."""
        if len(self._known) > self._limit:  # runs long gone; reread when needed
            self._known.clear()
            self._quiet.clear()
        self._known.update(self._pending)
        for key in self._pending:
            self._quiet.pop(key, None)
        self._pending.clear()

    def _unchanged(self, run_id: str, packets: list[Packet]) -> bool:
        if any(p.name not in lineage.REPORTS for p in packets):
            return False
        return all(self._idle((run_id, i), p) for p in packets for i in p.seed_ids())

    def _idle(self, key: Key, report: Packet) -> bool:
        known = self._known.get(key)
        if known is None:
            return False
        if self._quiet.get(key) == report.attrs:
            return True
        if lineage.apply(_copy(known), report):  # a dry run on a copy
            return False
        self._quiet[key] = report.attrs
        return True


def _by_run(rows: list[dict[str, Any]]) -> dict[str, list[Packet]]:
    by_run: dict[str, list[Packet]] = defaultdict(list)
    for row in rows:
        found = lineage.packet(row)
        if found is not None:
            by_run[found.run_id].append(found)
    return by_run


async def _apply_run(
    session: AsyncSession, run_id: str, packets: list[Packet]
) -> tuple[dict[str, Seed], int]:
    named = {i for p in packets for i in p.seed_ids()}
    whole_run = any(p.name == lineage.RESTORED for p in packets)
    if not named and not whole_run:
        return {}, 0
    seeds = await _locked(session, run_id, named, whole_run)
    if missing := named - seeds.keys():
        await _insert_new(session, packets, missing)
        seeds.update(await _locked(session, run_id, missing, False))
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
    await session.flush()  # only the rows a packet changed are written
    return seeds, applied


def _copy(seed: Seed) -> Seed:
    """A detached copy: the session's later changes do not reach it."""
    return Seed(**_columns(seed))


def _named(p: Packet, seeds: dict[str, Seed]) -> list[Seed]:
    return [seeds[i] for i in p.seed_ids() if i in seeds]


async def _insert_new(
    session: AsyncSession, packets: list[Packet], missing: set[str]
) -> None:
    """A row for each missing seed id, from the first packet naming it; one
    another replica inserted meanwhile is skipped by the primary key."""
    first: dict[str, Packet] = {}
    for p in packets:
        for seed_id in set(p.seed_ids()) & missing:
            first.setdefault(seed_id, p)
    values = [_columns(lineage.new_seed(p, seed_id)) for seed_id, p in first.items()]
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
