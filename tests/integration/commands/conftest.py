"""One live stack (gateway + one worker, SQLite, real Redis) per module."""

from collections.abc import Iterator

import pytest

from tests.fixtures.gateway import sqlite_url
from tests.fixtures.stack import LiveStack


@pytest.fixture(scope="module")
def stack(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    tmp = tmp_path_factory.mktemp("commands")
    live = LiveStack(sqlite_url(tmp), module_redis_url, tmp, workers=1)
    yield live
    print(live.logs()[-20000:])
    live.stop()
