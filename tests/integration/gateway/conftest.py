"""A gateway per test module, on SQLite and on PostgreSQL."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import services
from tests.fixtures.gateway import GatewayProcess, sqlite_url, start_gateway


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path_factory.mktemp("sqlite"))
        return
    base = services.postgres_url()
    if not base:
        pytest.skip("ESPER_TEST_POSTGRES_URL is not set (no PostgreSQL configured)")
    url = services.create_postgres_database(base)
    yield url
    services.drop_postgres_database(base, url)


@pytest.fixture(scope="module")
def gateway(database_url: str, module_redis_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    tmp: Path = tmp_path_factory.mktemp("gateway")
    proc = start_gateway(database_url, module_redis_url, tmp)
    yield proc
    proc.stop()
