"""Fencing on the worker's side: is this worker's attempt of its run current?

When a worker is presumed lost, the gateway requeues its run with the next
attempt and writes that attempt to the run's fence key (app/runs/requeue.py).
A worker that comes back (a partition healed, a stalled process resumed)
reads the key, learns it is stale, and stands down: it stops training and
publishes nothing more for the run. The gateway refuses its events anyway
(each carries its attempt); this keeps its telemetry off the run's stream too.
"""

import logging

import redis

from api_schemas.bus import run_fence_key

log = logging.getLogger("esper.worker.fence")


class AttemptFence:
    def __init__(self, client: redis.Redis, run_id: str, attempt: int) -> None:
        self._client = client
        self.run_id = run_id
        self.attempt = attempt
        self.stale = False  # once stale, stale for good

    def check(self) -> bool:
        """Read the fence key; True the first time it shows a later attempt."""
        if self.stale:
            return False
        try:
            current = self._client.get(run_fence_key(self.run_id))
        except redis.RedisError:  # cannot tell: keep going, check again later
            return False
        if current is None or int(current) <= self.attempt:
            return False
        log.warning(
            "run %s is at attempt %s; this worker's attempt %d is stale: standing down",
            self.run_id,
            int(current),
            self.attempt,
        )
        self.stale = True
        return True
