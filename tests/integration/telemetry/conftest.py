"""One gateway (uvicorn subprocess, SQLite) per telemetry test module."""

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Run
from tests.fixtures.gateway import GatewayProcess, running_gateway, sqlite_url
from tests.fixtures.redis_dbs import RedisDb, fresh_redis_db

QUEUE_FRAMES = 512  # small, so the stalled client overflows quickly


@pytest.fixture(scope="module")
def telemetry_redis_url(redis_server_url: str) -> Iterator[str]:
    yield from fresh_redis_db(redis_server_url, RedisDb.TELEMETRY)


@pytest.fixture(scope="module")
def telemetry_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return sqlite_url(tmp_path_factory.mktemp("telemetry-db"))


@pytest.fixture(scope="module")
def gateway(
    telemetry_db_url: str,
    telemetry_redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("gateway")
    with running_gateway(
        telemetry_db_url,
        telemetry_redis_url,
        tmp,
        ESPER_WS_QUEUE_FRAMES=str(QUEUE_FRAMES),
        ESPER_TELEMETRY_PERSIST_INTERVAL_S="0.05",
    ) as gateway:
        yield gateway


@pytest_asyncio.fixture
async def aredis(telemetry_redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(telemetry_redis_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def maker(
    telemetry_db_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(telemetry_db_url)
    yield async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    await engine.dispose()


NewRun = Callable[..., Coroutine[Any, Any, str]]


@pytest_asyncio.fixture
async def new_run(
    gateway: GatewayProcess, maker: async_sessionmaker[AsyncSession]
) -> NewRun:
    """POST a run, then mark it `running` as a worker's state event would."""

    async def create(state: str = "running") -> str:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            response = await client.post("/api/v1/runs", json={"task": "digits"})
        assert response.status_code == 201, response.text
        run_id: str = response.json()["id"]
        async with maker() as session:
            await session.execute(
                update(Run).where(col(Run.id) == run_id).values(state=state)
            )
            await session.commit()
        return run_id

    return create
