"""Fencing on the worker's side: is this worker's attempt of its run current?

When a worker is presumed lost, the gateway requeues its run with the next
attempt and writes that attempt to the run's fence key (app/runs/requeue.py).
A worker that comes back (a partition healed, a stalled process resumed)
reads the key, learns it is stale, and stands down: it stops training and
publishes nothing more for the run. The gateway refuses its events anyway
(each carries its attempt); this keeps its telemetry off the run's stream too.

The same check stops a run the gateway ended before any worker started it (a
halt or a cancel of a queued run: app/runs/ending.py leaves an entry on
`esper:run:{id}:ended`). A worker looks for it when it claims the run and
skips the run; one that claimed it just before the end stands down here.
"""

import logging

import redis

from api_schemas.bus import run_ended_stream, run_fence_key

log = logging.getLogger("esper.worker.fence")

# The halt reason of a worker that stands down: the halt flag stops its
# training between micro-batches.
STAND_DOWN_REASON = "superseded by a later attempt"


class AttemptFence:
    def __init__(self, client: redis.Redis, run_id: str, attempt: int) -> None:
        self._client = client
        self.run_id = run_id
        self.attempt = attempt
        self.stale = False  # once stale, stale for good

    def check(self) -> bool:
        """Read the fence key and the run's end; True the first time either
        says this worker must stop (a later attempt, or the gateway ended it)."""
        if self.stale:
            return False
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.get(run_fence_key(self.run_id))
                pipe.exists(run_ended_stream(self.run_id))
                current, ended = pipe.execute()
        except redis.RedisError:  # cannot tell: keep going, check again later
            return False
        if ended:
            log.warning("run %s was ended by the gateway: standing down", self.run_id)
        elif current is None or int(current) <= self.attempt:
            return False
        else:
            log.warning(
                "run %s is at attempt %s; this worker's attempt %d is stale: "
                "standing down",
                self.run_id,
                int(current),
                self.attempt,
            )
        self.stale = True
        return True


def ended_by_gateway(client: redis.Redis, run_id: str) -> bool:
    """Whether the gateway ended the run before any worker started it. A
    Redis error reads as no: the claim goes on, and the session's fence
    checks again while it trains."""
    try:
        return bool(client.exists(run_ended_stream(run_id)))
    except redis.RedisError as exc:
        log.warning("could not check whether run %s ended (%s)", run_id, exc)
        return False
