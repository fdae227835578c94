"""The liveness hash `esper:worker:{id}`: written with a TTL, refreshed by a thread."""

import json
import logging
import threading
from typing import Any

import redis
from redis.typing import EncodableT, FieldT

from api_schemas.bus import worker_key
from workers import bus
from workers.context import WorkerContext
from workers.priority import name_os_thread

log = logging.getLogger("esper.worker.liveness")


class Heartbeat(threading.Thread):
    """Refreshes the key every `heartbeat_s`; expiry tells the reaper we are gone."""

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self.ctx = ctx
        self.key = worker_key(ctx.worker_id)
        self._stopping = threading.Event()

    def beat(self) -> None:
        fields: dict[FieldT, EncodableT] = {
            k: _flat(v) for k, v in self.ctx.info.items()
        }
        fields["last_heartbeat"] = bus.utcnow().isoformat()
        pipe = self.ctx.client.pipeline(transaction=True)
        pipe.hset(self.key, mapping=fields)
        pipe.pexpire(self.key, int(self.ctx.settings.worker_ttl_s * 1000))
        pipe.execute()

    def run(self) -> None:
        name_os_thread("esper-heartbeat")
        # Not workers.retry: a failed beat is not retried; the next one is due
        # in heartbeat_s anyway, and the key's TTL outlasts several.
        while not self._stopping.wait(self.ctx.settings.heartbeat_s):
            try:
                self.beat()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("heartbeat failed (%s)", exc)

    def stop(self) -> None:
        self._stopping.set()
        self.join(2.0)
        try:
            self.ctx.client.delete(self.key)
        except redis.RedisError as exc:
            log.warning("could not delete liveness key (%s)", exc)


def _flat(value: Any) -> str:
    # Hash fields are strings; "" stands for None so HGETALL stays simple.
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
