"""Resume with ?after=: from Redis, from the database once Redis trimmed, and an
explicit gap event when neither holds the range."""

import asyncio

import httpx
import pytest
from redis.asyncio import Redis

from api_schemas.bus import telemetry_stream
from api_schemas.telemetry import cursor_key
from tests.fixtures.gateway import GatewayProcess
from tests.integration.telemetry.conftest import NewRun
from tests.integration.telemetry.helpers import (
    eventually,
    finish,
    produce,
    receive_all,
)

pytestmark = pytest.mark.asyncio(loop_scope="function")


def ws_url(gateway: GatewayProcess, run_id: str, after: str | None = None) -> str:
    base = gateway.url.replace("http://", "ws://") + f"/ws/runs/{run_id}"
    return base + (f"?after={after}" if after else "")


async def test_resume_from_redis_gets_exactly_the_missing_packets(
    gateway: GatewayProcess, aredis: Redis, new_run: NewRun
) -> None:
    run_id = await new_run()
    cursors = await produce(aredis, run_id, range(1000))
    first = await receive_all(ws_url(gateway, run_id), stop_after=400)
    assert first.cursors == cursors[:400]
    # More arrives while the client is away; it resumes from its last cursor.
    cursors += await produce(aredis, run_id, range(1000, 1500))
    resumed_task = asyncio.create_task(
        receive_all(ws_url(gateway, run_id, first.cursors[-1]))
    )
    await asyncio.sleep(0.3)
    cursors += await produce(aredis, run_id, range(1500, 1600))  # live part
    final = await finish(aredis, run_id)
    resumed = await resumed_task
    assert resumed.cursors == [*cursors[400:], final]
    assert resumed.steps == list(range(400, 1600))
    assert resumed.code == 1000


async def test_resume_from_the_database_after_redis_trimmed(
    gateway: GatewayProcess, aredis: Redis, new_run: NewRun
) -> None:
    run_id = await new_run()
    cursors = await produce(aredis, run_id, range(1000))
    await eventually(lambda: _persisted(gateway, run_id, 1000))
    await aredis.xtrim(telemetry_stream(run_id), maxlen=100, approximate=False)
    final = await finish(aredis, run_id)
    resumed = await receive_all(ws_url(gateway, run_id, cursors[199]))
    assert resumed.frames[0]["name"] != "telemetry.gap"
    assert resumed.cursors == [*cursors[200:], final]  # 700 from the DB, 100+1 Redis
    assert resumed.steps == list(range(200, 1000))
    assert resumed.code == 1000


async def test_a_gap_is_announced_when_history_is_missing(
    gateway: GatewayProcess, aredis: Redis, new_run: NewRun
) -> None:
    # A queued run is not persisted, so once trimmed its head is gone for good.
    run_id = await new_run(state="queued")
    cursors = await produce(aredis, run_id, range(300))
    await aredis.xtrim(telemetry_stream(run_id), maxlen=100, approximate=False)
    await finish(aredis, run_id)
    resumed = await receive_all(ws_url(gateway, run_id, cursors[9]))
    gap = resumed.frames[0]
    assert (gap["kind"], gap["name"], gap["level"]) == (
        "event",
        "telemetry.gap",
        "warning",
    )
    assert gap["attrs"] == {"from": cursors[9], "to": cursors[200]}
    assert resumed.cursors[1:101] == cursors[200:]
    assert resumed.code == 1000


async def test_connecting_after_the_run_ended_replays_and_closes(
    gateway: GatewayProcess, aredis: Redis, new_run: NewRun
) -> None:
    run_id = await new_run(state="completed")
    cursors = await produce(aredis, run_id, range(50))
    final = await finish(aredis, run_id)
    got = await receive_all(ws_url(gateway, run_id))
    assert got.cursors == [*cursors, final]
    assert (got.code, got.frames[-1]["value"]) == (1000, "completed")


async def _persisted(gateway: GatewayProcess, run_id: str, n: int) -> bool:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        page = (
            await client.get(f"/api/v1/runs/{run_id}/telemetry", params={"limit": 5000})
        ).json()
    return len(page["items"]) >= n


async def test_history_pages_filters_and_buckets(
    gateway: GatewayProcess, aredis: Redis, new_run: NewRun
) -> None:
    run_id = await new_run()
    cursors = await produce(aredis, run_id, range(600))
    await eventually(lambda: _persisted(gateway, run_id, 600))
    path = f"/api/v1/runs/{run_id}/telemetry"
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        seen, after = [], None
        while True:
            params = {"limit": 250, **({"after": after} if after else {})}
            page = (await client.get(path, params=params)).json()
            seen += [item["cursor"] for item in page["items"]]
            if not (after := page["next_cursor"]):
                break
        losses = (
            await client.get(
                path,
                params={
                    "names": "tolaria.training.l*",
                    "kind": "metric",
                    "limit": 5000,
                },
            )
        ).json()
        series = (
            await client.get(
                path, params={"names": "tolaria.training.loss", "resolution": 3}
            )
        ).json()
    assert seen == cursors  # 3 pages, in order, nothing twice
    assert [i["step"] for i in losses["items"]] == list(range(0, 600, 4))
    steps = list(range(0, 600, 4))  # loss steps 0..596 -> width 199
    values = {s: float(s % 97) / 10 for s in steps}
    expected = []
    for start in (0, 199, 398):
        inside = [s for s in steps if start <= s <= start + 198]
        expected.append(
            {
                "name": "tolaria.training.loss",
                "step_start": start,
                "step_end": min(596, start + 198),
                "min": min(values[s] for s in inside),
                "max": max(values[s] for s in inside),
                "last": values[inside[-1]],
                "count": len(inside),
            }
        )
    cursor = series.pop("cursor")  # the highest cursor the buckets cover
    assert isinstance(cursor, str) and cursor_key(cursor) > (0, 0)
    assert series == {"resolution": 3, "buckets": expected}
