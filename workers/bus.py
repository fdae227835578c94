"""Small Redis helpers shared by the worker's threads (Oona, worker side)."""

import json
import logging
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import BaseModel

from api_schemas.bus import DATA_FIELD, EVENTS_STREAM, RUNS_GROUP, RUNS_STREAM
from workers.retry import BLIPS, retrying

log = logging.getLogger("esper.worker")

_ATTEMPTS = 20


def connect(url: str) -> redis.Redis:
    # health_check_interval makes long-idle pooled connections re-validate, so a
    # Redis restart costs one retry rather than a dead thread.
    return redis.Redis.from_url(
        url, decode_responses=True, health_check_interval=10, socket_connect_timeout=2
    )


def publish_event(client: redis.Redis, event: BaseModel) -> str:
    """XADD one envelope to `esper:events`, retrying through short Redis blips."""
    payload = {DATA_FIELD: event.model_dump_json()}
    kind = event.__class__.__name__
    try:
        return retrying(
            lambda: str(client.xadd(EVENTS_STREAM, payload)),  # type: ignore[arg-type]
            attempts=_ATTEMPTS,
            on_blip=lambda exc: log.warning(
                "publish %s failed (%s); retrying", kind, exc
            ),
        )
    except BLIPS as exc:
        raise RuntimeError("Redis did not accept the event") from exc


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
