"""`workers.retry.retrying`: which errors are retried, how often, and the
pauses between (recorded instead of slept)."""

import pytest
import redis
import redis.retry

from workers.retry import retrying


class Calls:
    """A call that raises each given exception in turn, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    # redis-py's Retry sleeps with the `sleep` it imported from time.
    monkeypatch.setattr(redis.retry, "sleep", slept.append)
    return slept


def test_blips_are_retried_with_doubling_pauses_capped(pauses: list[float]) -> None:
    blips: list[Exception] = []
    call = Calls(*[redis.ConnectionError("refused")] * 6, redis.TimeoutError("slow"))
    assert retrying(call, attempts=None, cap_s=2.0, on_blip=blips.append) == "ok"
    assert call.count == 8
    assert pauses == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert [str(b) for b in blips] == ["refused"] * 6 + ["slow"]


def test_the_first_pause_is_first_s(pauses: list[float]) -> None:
    call = Calls(redis.ConnectionError(), redis.ConnectionError())
    retrying(call, attempts=None, first_s=0.05)
    assert pauses == [0.05, 0.1]


def test_the_last_blip_is_raised_once_the_attempts_are_spent(
    pauses: list[float],
) -> None:
    call = Calls(*[redis.ConnectionError(f"down {i}") for i in range(5)])
    with pytest.raises(redis.ConnectionError, match="down 2"):
        retrying(call, attempts=3)
    assert call.count == 3
    assert len(pauses) == 2  # none after the last attempt


def test_a_refusal_is_raised_at_once(pauses: list[float]) -> None:
    blips: list[Exception] = []
    call = Calls(redis.ResponseError("OOM command not allowed"))
    with pytest.raises(redis.ResponseError):
        retrying(call, attempts=None, on_blip=blips.append)
    assert (call.count, pauses, blips) == (1, [], [])
