"""One Redis call retried through short blips, on the worker's threads.

redis-py's own `Retry` with `ExponentialBackoff` does the job (it is what the
client itself retries connections with): a connection or timeout error is
retried after a pause that doubles, capped; any other error (a ResponseError:
Redis refused, and asking again cannot help) is raised at once.
"""

import logging
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

T = TypeVar("T")

# Redis unreachable or slow for a moment: worth asking again.
BLIPS: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)


def retrying(
    call: Callable[[], T],
    *,
    attempts: int | None,
    first_s: float = 0.1,
    cap_s: float = 2.0,
    on_blip: Callable[[Exception], object] = lambda _exc: None,
) -> T:
    """`call()`, made up to `attempts` times (None: until it succeeds), pausing
    `first_s` after the first blip and twice as long after each next one, at
    most `cap_s`. `on_blip` sees every blip; the last one is raised."""
    # Retry counts failures from 1 and pauses base * 2**failures.
    backoff = ExponentialBackoff(cap=cap_s, base=first_s / 2)
    retries = -1 if attempts is None else attempts - 1  # -1: forever
    return Retry(backoff, retries, BLIPS).call_with_retry(call, on_blip)


def written_until_refused(
    write: Callable[[], object], what: str, log: logging.Logger, first_s: float
) -> bool:
    """A batch write retried until it lands (a stream's order must be kept),
    through blips however long; False when Redis refused it (out of memory,
    say): asking again cannot help, and a dead writer thread would let its
    queue grow without bound, so the caller counts the batch dropped."""
    try:
        retrying(
            write,
            attempts=None,
            first_s=first_s,
            on_blip=lambda exc: log.warning("%s failed (%s); retrying", what, exc),
        )
    except redis.ResponseError as exc:
        log.error("%s refused, batch dropped: %s", what, exc)
        return False
    return True
