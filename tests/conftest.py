"""Session-wide fixtures: real Redis and PostgreSQL (see tests/fixtures/services.py)."""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import services
from tests.fixtures.redis_dbs import RedisDb, fresh_redis_db
from tests.fixtures.s3 import S3Server, StoreLocation, moto_server

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# The suite's own tasks and policies are named by import path (SECURITY.md: only
# the prefixes a deployment allows); workers and gateways the tests start inherit it.
os.environ.setdefault("ESPER_ALLOW_IMPORT_PATHS", "tests.,load.")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: they are the slowest, and their Playwright loop must not
    share the main thread with tests that start event loops of their own."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """A live Redis: ESPER_REDIS_URL, else 127.0.0.1:6379, else the bundled one."""
    yield from services.redis_base_url()


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    """A Redis database flushed before and after the test (tests do not share keys)."""
    yield from fresh_redis_db(redis_server_url, RedisDb.TEST)


@pytest.fixture
def postgres_db_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    yield from services.fresh_postgres_database()


@pytest.fixture(scope="module")
def module_redis_url(redis_server_url: str) -> Iterator[str]:
    """A Redis database shared by one test module, flushed before and after it."""
    yield from fresh_redis_db(redis_server_url, RedisDb.MODULE)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3-compatible server, one per session (tests/fixtures/s3.py)."""
    yield from moto_server(tmp_path_factory.mktemp("moto") / "moto.log")


@pytest.fixture(params=["local", "s3"])
def artifact_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreLocation:
    """An empty artifact store: a local directory, then a bucket on `s3_server`."""
    if request.param == "local":
        return StoreLocation(str(tmp_path / "artifacts"), {})
    server: S3Server = request.getfixturevalue("s3_server")
    return StoreLocation(server.new_bucket(), server.options)
