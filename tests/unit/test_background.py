"""`background.run_forever`: the gateway's loops' retry logic, with a fake tick
and the pauses recorded instead of slept."""

import asyncio
import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app import background

log = logging.getLogger("esper.test.background")


class Ticks:
    """A tick that raises each given exception in turn (None: succeeds), then
    cancels itself, as cancelling the loop's task would."""

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if not self.outcomes:
            raise asyncio.CancelledError
        if (outcome := self.outcomes.pop(0)) is not None:
            raise outcome


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return slept


async def run(tick: Ticks, **kwargs: object) -> None:
    with pytest.raises(asyncio.CancelledError):
        await background.run_forever(tick, log=log, **kwargs)  # type: ignore[arg-type]


@pytest.mark.asyncio(loop_scope="function")
async def test_a_transient_error_is_a_warning_and_retried_after_the_pause(
    pauses: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    tick = Ticks(RedisConnectionError("refused"), OSError("reset"), None)
    with caplog.at_level(logging.WARNING, log.name):
        await run(tick, lost="lost Redis: %s", error="boom", every_s=1, retry_s=0.5)
    assert tick.calls == 4
    # Each failure waits retry_s on top of every_s; a success only every_s.
    assert pauses == [0.5, 1, 0.5, 1, 1]
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "lost Redis: refused"),
        (logging.WARNING, "lost Redis: reset"),
    ]
    assert all(r.exc_info is None for r in caplog.records)


@pytest.mark.asyncio(loop_scope="function")
async def test_another_error_is_logged_with_its_traceback_and_retried(
    pauses: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    tick = Ticks(ValueError("bug"), None)
    with caplog.at_level(logging.WARNING, log.name):
        await run(tick, lost="lost Redis: %s", error="loop error", retry_s=0.5)
    assert tick.calls == 3
    assert pauses == [0.5, 0.0, 0.0]
    [record] = caplog.records
    assert (record.levelno, record.getMessage()) == (logging.ERROR, "loop error")
    assert record.exc_info is not None and record.exc_info[0] is ValueError


@pytest.mark.asyncio(loop_scope="function")
async def test_without_a_lost_message_a_redis_error_is_an_error_too(
    pauses: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    tick = Ticks(RedisConnectionError("refused"))
    with caplog.at_level(logging.WARNING, log.name):
        await run(tick, error="reload failed", every_s=2)
    assert pauses == [0.0, 2]
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None


@pytest.mark.asyncio(loop_scope="function")
async def test_with_no_error_message_another_error_ends_the_loop(
    pauses: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    tick = Ticks(RedisConnectionError("refused"), ValueError("bug"))
    with caplog.at_level(logging.WARNING, log.name), pytest.raises(ValueError):
        await background.run_forever(
            tick,
            log=log,
            lost="read failed: %s",
            transient=(RedisConnectionError,),
            error=None,
            retry_s=0.5,
        )
    assert tick.calls == 2
    assert [r.getMessage() for r in caplog.records] == ["read failed: refused"]


@pytest.mark.asyncio(loop_scope="function")
async def test_an_error_outside_the_transient_set_is_not_a_warning(
    pauses: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    tick = Ticks(OSError("reset"))
    with caplog.at_level(logging.WARNING, log.name), pytest.raises(OSError):
        await background.run_forever(
            tick,
            log=log,
            lost="read failed: %s",
            transient=(RedisConnectionError,),
            error=None,
        )
    assert caplog.records == []


@pytest.mark.asyncio(loop_scope="function")
async def test_cancelling_the_task_ends_the_loop_mid_pause() -> None:
    ticked = asyncio.Event()

    async def tick() -> None:
        ticked.set()

    task = asyncio.create_task(
        background.run_forever(tick, log=log, error="boom", every_s=60)
    )
    await asyncio.wait_for(ticked.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
