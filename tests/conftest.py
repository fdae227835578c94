"""Session-wide fixtures: real Redis and PostgreSQL (see tests/fixtures/services.py)."""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.fixtures import services

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


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
    base = redis_server_url.rsplit("/", 1)[0]
    db = int(os.environ.get("ESPER_TEST_REDIS_DB", "9"))
    url = f"{base}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def postgres_db_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    base = services.postgres_url()
    if not base:
        pytest.skip("ESPER_TEST_POSTGRES_URL is not set (no PostgreSQL configured)")
    url = services.create_postgres_database(base)
    yield url
    services.drop_postgres_database(base, url)


@pytest.fixture(scope="module")
def module_redis_url(redis_server_url: str) -> str:
    """A Redis database shared by one test module (flushed when it starts)."""
    base = redis_server_url.rsplit("/", 1)[0]
    url = f"{base}/8"
    redis.Redis.from_url(url).flushdb()
    return url
