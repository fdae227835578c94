"""The gateway's telemetry machinery: the fan-out hub and the history loops."""

from collections.abc import Coroutine
from typing import Any

from fastapi import FastAPI

from app.settings import Settings
from app.telemetry.emergency import EmergencyRelay
from app.telemetry.hub import Hub
from app.telemetry.persister import Persister, prune_forever


def start_telemetry(
    app: FastAPI, settings: Settings
) -> list[Coroutine[Any, Any, None]]:
    """Set `app.state.hub`; return the emergency relay, the persister and the
    retention loops to run."""
    maker, redis = app.state.writes, app.state.redis
    app.state.hub = Hub(redis, settings.ws_queue_frames)
    app.state.persister = Persister(
        maker,
        redis,
        batch=settings.telemetry_persist_batch,
        interval_s=settings.telemetry_persist_interval_s,
    )
    return [
        EmergencyRelay(redis).run_forever(),
        app.state.persister.run_forever(),
        prune_forever(
            maker,
            settings.telemetry_retention_days,
            settings.telemetry_prune_interval_s,
        ),
    ]
