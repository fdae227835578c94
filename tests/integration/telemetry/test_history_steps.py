"""History narrowed to a step range (a chart's zoom, a partial export), on SQLite
and PostgreSQL: buckets and pages inside the range only, bad ranges a 422."""

from collections.abc import Iterator

import httpx
import pytest
from redis.asyncio import Redis

from app.settings import Settings
from tests.fixtures import services
from tests.fixtures.gateway import GatewayProcess, sqlite_url
from tests.integration.telemetry.conftest import NewRun
from tests.integration.telemetry.helpers import eventually, produce

pytestmark = pytest.mark.asyncio(loop_scope="function")
LOSS = "tolaria.training.loss"  # helpers.packet: every 4th step, value step%97/10


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def telemetry_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Overrides the telemetry conftest's (SQLite only) with both databases."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path_factory.mktemp("sqlite"))
    else:
        for url in services.fresh_postgres_database():
            yield Settings(database_url=url).async_database_url


async def _persisted(client: httpx.AsyncClient, path: str, n: int) -> bool:
    page = (await client.get(path, params={"limit": 5000})).json()
    return len(page["items"]) >= n


async def test_buckets_and_pages_within_a_step_range(
    gateway: GatewayProcess, aredis: Redis, new_run: NewRun
) -> None:
    run_id = await new_run()
    await produce(aredis, run_id, range(800))
    path = f"/api/v1/runs/{run_id}/telemetry"
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        await eventually(lambda: _persisted(client, path, 800))
        zoom: dict[str, str | int] = {"names": LOSS, "step_from": 200, "step_to": 399}
        series = (await client.get(path, params={**zoom, "resolution": 10})).json()
        page = (await client.get(path, params={**zoom, "limit": 5000})).json()
        open_ended = (
            await client.get(path, params={"names": LOSS, "step_from": 700})
        ).json()
        backwards = await client.get(path, params={"step_from": 9, "step_to": 3})
        # Past the 32-bit step column: a 500 on PostgreSQL before (the fuzzer).
        too_big = await client.get(path, params={"step_to": 2**31})
    steps = list(range(200, 400, 4))
    buckets = series["buckets"]
    # 50 points in [200, 396] -> 10 buckets of 20 steps, each of 5 points.
    assert [b["step_start"] for b in buckets] == list(range(200, 400, 20))
    assert sum(b["count"] for b in buckets) == len(steps)
    assert buckets[-1]["last"] == (396 % 97) / 10
    assert [p["step"] for p in page["items"]] == steps
    assert [p["step"] for p in open_ended["items"]] == list(range(700, 800, 4))
    assert backwards.status_code == 422
    assert backwards.json()["error"]["code"] == "invalid_step_range"
    assert too_big.status_code == 422
    assert too_big.json()["error"]["code"] == "validation_error"
