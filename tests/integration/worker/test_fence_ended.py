"""A worker that claimed a run just before the gateway ended it (a halt or a
cancel of a queued run) stands down at its next fence check."""

import redis

from api_schemas.bus import run_ended_stream, run_fence_key
from workers.fence import AttemptFence, ended_by_gateway


def test_the_fence_stands_down_once_the_gateway_ended_the_run(
    module_redis_url: str,
) -> None:
    client = redis.Redis.from_url(module_redis_url)
    fence = AttemptFence(client, "run-a", attempt=1)
    client.set(run_fence_key("run-a"), 1)
    assert not fence.check() and not ended_by_gateway(client, "run-a")
    client.xadd(run_ended_stream("run-a"), {"data": "{}"})
    assert ended_by_gateway(client, "run-a")
    assert fence.check() and fence.stale
    assert not fence.check()  # said once
    assert not ended_by_gateway(client, "run-b")
