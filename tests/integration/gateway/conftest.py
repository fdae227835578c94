"""A gateway per test module, on SQLite and on PostgreSQL, and a client of it."""

from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures import services
from tests.fixtures.gateway import GatewayProcess, running_gateway, sqlite_url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path_factory.mktemp("sqlite"))
    else:
        yield from services.fresh_postgres_database()


@pytest.fixture(scope="module")
def gateway(
    database_url: str, module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("gateway")
    with running_gateway(database_url, module_redis_url, tmp) as gateway:
        yield gateway


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with gateway.client() as client:
        yield client
