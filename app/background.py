"""The one shape of the gateway's background loops: a tick, forever.

The event consumer, outbox relay, persister, pruning, reaper, key reload, WAL
checkpoint and telemetry feeds each run one tick after another. A tick that
fails is logged and the loop carries on after a pause: a loop that died would
leave the gateway up but deaf (no acks applied, no outbox relayed) until it
restarts. Redis going away is an expected blip, logged as a warning without a
traceback; anything else is a bug, logged with one.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn

from redis.exceptions import RedisError

# Redis (or the network under it) unreachable: nothing to fix but to wait.
TRANSIENT: tuple[type[Exception], ...] = (RedisError, OSError)


async def run_forever(
    tick: Callable[[], Awaitable[object]],
    *,
    log: logging.Logger,
    error: str | None,
    lost: str | None = None,
    transient: tuple[type[Exception], ...] = TRANSIENT,
    every_s: float = 0.0,
    retry_s: float = 0.0,
) -> NoReturn:
    """Await `tick()` forever, pausing `every_s` after each and a further
    `retry_s` after one that failed.

    A `transient` error logs `lost` as a warning (its "%s" is the error); with
    `lost` None it counts as any other error. Any other exception logs `error`
    with the traceback; with `error` None it ends the loop instead.
    CancelledError is not an Exception: cancelling the task ends the loop.
    """
    while True:
        try:
            await tick()
        except Exception as exc:
            if lost is not None and isinstance(exc, transient):
                log.warning(lost, exc)
            elif error is None:
                raise
            else:
                log.exception(error)
            await asyncio.sleep(retry_s)
        await asyncio.sleep(every_s)
