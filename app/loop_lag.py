"""The gateway's event-loop lag, as a metric.

Every request, command, ack and telemetry packet shares one event loop: a
callback that runs long, or a process the OS does not schedule, delays them
all. A timer that should fire every `interval_s` measures it: how late it
fires is how long anything ready at that moment waited. Operators see it in
`esper_gateway_loop_lag_seconds`; `halt-latency` prints it beside its tail.
"""

import asyncio
import time

from app import metrics


async def watch_loop_lag(interval_s: float = 0.05) -> None:
    # Not background.run_forever: the sleep is what is measured, and nothing
    # here fails (no Redis, no database) to be retried.
    while True:
        started = time.perf_counter()
        await asyncio.sleep(interval_s)
        late = time.perf_counter() - started - interval_s
        metrics.LOOP_LAG_SECONDS.observe(max(0.0, late))
