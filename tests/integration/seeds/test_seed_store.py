"""The persister builds the seed table from a run's stream: in its own
transaction, once per packet however many replicas read it, and the seeds
outlive the telemetry history. Real Redis, SQLite and PostgreSQL."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.bus import DATA_FIELD, telemetry_stream
from app.models import Run, TelemetryRecord
from app.seeds.service import list_seeds
from app.seeds.store import SeedLineage
from app.telemetry.persister import Persister, prune_once
from app.telemetry.store import record

Maker = async_sessionmaker[AsyncSession]
OLD = "2020-01-01T00:00:00+00:00"  # older than any retention: pruning takes it


def seed_event(name: str, step: int, seed_id: str, **attrs: Any) -> dict[str, Any]:
    base = {"seed_id": seed_id, "slot": "block0", "blueprint": "low_rank"}
    return {
        "kind": "seed" if name.startswith("kasmina.seed.") else "event",
        "name": name,
        "value": attrs.get("to"),
        "step": step,
        "epoch": 0,
        "level": "info",
        "ts": OLD,
        "attrs": {**base, "params": 96, **attrs},
    }


def move(step: int, seed_id: str, to: str, reason: str, **extra: Any) -> list[Any]:
    change = {"to": to, "stage": to, "reason": reason, **extra}
    return [
        seed_event("kasmina.seed.stage_changed", step, seed_id, **change),
        seed_event("kasmina.seed.stage", step, seed_id, **change),
    ]


PACKETS = [
    *move(3, "seed-1", "GERMINATED", "G0 passed (policy)", gate="G0"),
    *move(4, "seed-1", "TRAINING", "training in isolation"),
    *move(5, "seed-2", "GERMINATED", "G0 passed (operator)", gate="G0", slot="b1"),
    seed_event("kasmina.seed.alpha", 10, "seed-1", stage="TRAINING", alpha=0.0),
    seed_event(
        "kasmina.gate_failure", 12, "seed-1", gate="G1", reason="zero", figures={}
    ),
    *move(12, "seed-1", "CULLED", "G1 failed: zero"),
    *move(12, "seed-1", "EMBARGOED", "embargoed until step 42"),
    *move(20, "seed-2", "TRAINING", "training in isolation", slot="b1"),
]


@pytest_asyncio.fixture(loop_scope="function")
async def aredis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def live_run(maker: Maker, redis: Redis) -> str:
    async with maker() as session:
        run = Run(state="running", spec={"task": "digits"})
        session.add(run)
        await session.commit()
    for packet in PACKETS:
        body = {**packet, "run_id": run.id}
        await redis.xadd(telemetry_stream(run.id), {DATA_FIELD: json.dumps(body)})
    return run.id


async def drain(persister: Persister) -> None:
    await persister.discover()
    while await persister.persist_once():
        pass


async def lineage(maker: Maker, run_id: str) -> list[dict[str, Any]]:
    async with maker() as session:
        return [s.model_dump() for s in await list_seeds(session, run_id)]


@pytest.mark.asyncio(loop_scope="function")
async def test_replicas_and_restarts_apply_each_packet_once(
    sessions: Maker, aredis: Redis
) -> None:
    run_id = await live_run(sessions, aredis)
    # Two replicas at once, small chunks so they interleave; then a restart.
    replicas = [Persister(sessions, aredis, chunk=3) for _ in range(2)]
    await asyncio.gather(*(drain(r) for r in replicas))
    await drain(Persister(sessions, aredis, chunk=5))
    first, second = await lineage(sessions, run_id)

    assert first["seed_id"] == "seed-1" and second["seed_id"] == "seed-2"
    assert (first["outcome"], first["stage"], first["ended_step"]) == (
        "culled",
        "CULLED",
        12,
    )
    assert [(h["stage"], h["step"]) for h in first["history"]] == [
        ("GERMINATED", 3),
        ("TRAINING", 4),
        ("CULLED", 12),
        ("EMBARGOED", 12),
    ]
    assert [(g["gate"], g["passed"]) for g in first["gates"]] == [
        ("G0", True),
        ("G1", False),
    ]
    assert (second["outcome"], second["stage"], second["slot"]) == (
        "live",
        "TRAINING",
        "b1",
    )
    assert second["ended_step"] is None and second["params"] == 96


@pytest.mark.asyncio(loop_scope="function")
async def test_seeds_outlive_the_telemetry_history(
    sessions: Maker, aredis: Redis
) -> None:
    run_id = await live_run(sessions, aredis)
    await drain(Persister(sessions, aredis))
    before = await lineage(sessions, run_id)
    assert await prune_once(sessions, days=1) == len(PACKETS)
    async with sessions() as session:
        count = select(func.count()).select_from(TelemetryRecord)
        assert (await session.exec(count)).one() == 0
    assert await lineage(sessions, run_id) == before
    assert [s["seed_id"] for s in before] == ["seed-1", "seed-2"]


def history_rows(run_id: str, packets: list[dict[str, Any]], first: int) -> list[Any]:
    return [
        record(run_id, f"{first + i}-0", json.dumps(p)) for i, p in enumerate(packets)
    ]


@pytest.mark.asyncio(loop_scope="function")
async def test_idle_reports_cost_no_query_and_a_rolled_back_chunk_is_not_remembered(
    sessions: Maker,
) -> None:
    async with sessions() as session:
        run = Run(state="running", spec={"task": "digits"})
        session.add(run)
        await session.commit()
    seeds = SeedLineage()
    async with sessions() as session:
        assert await seeds.apply(session, history_rows(run.id, PACKETS[:4], 1)) == 2
        await session.commit()
    seeds.committed()

    statements: list[str] = []
    report = seed_event("kasmina.seed.alpha", 6, "seed-1", stage="TRAINING", alpha=0)
    moved = history_rows(
        run.id, [{**report, "attrs": {**report["attrs"], "alpha": 0.25}}], 11
    )
    async with sessions() as session:
        bind = (await session.connection()).sync_connection
        assert bind is not None
        event.listen(bind, "before_cursor_execute", lambda *a: statements.append(a[2]))
        assert await seeds.apply(session, history_rows(run.id, [report], 10)) == 0
        assert statements == []  # judged against the remembered row
        assert await seeds.apply(session, moved) == 1
        assert statements  # a change goes to the database
        await session.rollback()  # ... whose commit fails
    async with sessions() as session:
        assert await seeds.apply(session, moved) == 1  # so it is applied again
        await session.commit()
    seeds.committed()
    (seed,) = [s for s in await lineage(sessions, run.id) if s["seed_id"] == "seed-1"]
    assert seed["alpha"] == 0.25 and [h["stage"] for h in seed["history"]] == [
        "GERMINATED",
        "TRAINING",
    ]


@pytest.mark.asyncio(loop_scope="function")
async def test_a_restore_holding_no_seed_ends_the_live_ones(sessions: Maker) -> None:
    async with sessions() as session:
        run = Run(state="running", spec={"task": "digits"})
        session.add(run)
        await session.commit()
    seeds = SeedLineage()
    restore = {**seed_event("kasmina.seeds.restored", 30, "-"), "attrs": {"seeds": []}}
    for first, chunk in ((1, PACKETS[:4]), (10, [restore])):
        async with sessions() as session:
            await seeds.apply(session, history_rows(run.id, chunk, first))
            await session.commit()
        seeds.committed()
    (seed,) = await lineage(sessions, run.id)
    assert (seed["outcome"], seed["ended_step"]) == ("culled", 30)
