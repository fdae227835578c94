"""Fixtures for tests with real worker subprocesses (and, later, the live stack)."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.fixtures.stack import WorkerProcess, worker_env

SpawnWorker = Callable[..., WorkerProcess]


@pytest.fixture
def bus(redis_url: str) -> Iterator["redis.Redis[str]"]:
    """A client on the test's own (flushed) Redis database."""
    client: redis.Redis[str] = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def spawn_worker(redis_url: str, tmp_path: Path) -> Iterator[SpawnWorker]:
    """Start real `python -m workers` subprocesses; all stopped after the test.

    Their logs are printed at teardown, which pytest shows when a test fails.
    """
    started: list[WorkerProcess] = []

    def spawn(device: str = "cpu", worker_id: str | None = None,
              **env: str) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        handle = WorkerProcess(worker_env(redis_url, tmp_path / "data", **env), log,
                               device, worker_id).start()
        started.append(handle)
        return handle

    yield spawn
    for handle in started:
        handle.stop()
        code = handle.proc.returncode if handle.proc else None
        print(f"--- {handle.log_path.name} (exit {code})")
        print(handle.log())
