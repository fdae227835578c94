"""Small Redis helpers shared by the worker's threads (Oona, worker side)."""

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import BaseModel

from api_schemas.bus import DATA_FIELD, EVENTS_STREAM, RUNS_GROUP, RUNS_STREAM

log = logging.getLogger("esper.worker")

_RETRIES = 20


def connect(url: str) -> redis.Redis:
    # health_check_interval makes long-idle pooled connections re-validate, so a
    # Redis restart costs one retry rather than a dead thread.
    return redis.Redis.from_url(
        url, decode_responses=True, health_check_interval=10, socket_connect_timeout=2
    )


def publish_event(client: redis.Redis, event: BaseModel) -> str:
    """XADD one envelope to `esper:events`, retrying through short Redis blips."""
    payload = {DATA_FIELD: event.model_dump_json()}
    for attempt in range(_RETRIES):
        try:
            return str(client.xadd(EVENTS_STREAM, payload))  # type: ignore[arg-type]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning(
                "publish %s failed (%s); retrying", event.__class__.__name__, exc
            )
            time.sleep(min(0.1 * 2**attempt, 2.0))
    raise RuntimeError("Redis did not accept the event")


def ensure_runs_group(client: redis.Redis) -> None:
    """Create the `workers` group (from the start of the stream) if missing."""
    try:
        client.xgroup_create(RUNS_STREAM, RUNS_GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def decode(fields: dict[str, str]) -> dict[str, Any]:
    return dict(json.loads(fields[DATA_FIELD]))


def utcnow() -> datetime:
    return datetime.now(UTC)
