"""The loop-lag watcher records a loop held by a long callback."""

import asyncio
import time

import pytest
from prometheus_client import REGISTRY

from app.loop_lag import watch_loop_lag

NAME = "esper_gateway_loop_lag_seconds"


def observed(le: str) -> float:
    value = REGISTRY.get_sample_value(f"{NAME}_bucket", {"le": le})
    return value or 0.0


@pytest.mark.asyncio(loop_scope="function")
async def test_a_blocked_loop_is_recorded_as_lag() -> None:
    count = REGISTRY.get_sample_value(f"{NAME}_count") or 0.0
    slow_before = observed("+Inf") - observed("0.02")
    watcher = asyncio.create_task(watch_loop_lag(interval_s=0.01))
    await asyncio.sleep(0.05)  # a few quiet ticks
    time.sleep(0.08)  # a callback that holds the loop for 80 ms
    await asyncio.sleep(0.05)
    watcher.cancel()
    assert (REGISTRY.get_sample_value(f"{NAME}_count") or 0.0) >= count + 4
    # The tick due during the block fired about 70 ms late: over 20 ms, once.
    assert observed("+Inf") - observed("0.02") >= slow_before + 1
