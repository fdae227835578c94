"""create_app(): the gateway, its lifespan (database, Redis, bus tasks) and routers."""

import asyncio
import contextlib
import gc
import importlib
import logging
import sys
from collections.abc import AsyncIterator

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator
from redis.asyncio import Redis

from app.artifacts.router import router as artifacts_router
from app.artifacts.store import ArtifactReader
from app.auth import ensure_bootstrap_admin
from app.bus.consumer import EventConsumer
from app.catalogue.router import router as catalogue_router
from app.commands.acks import CommandWaiters
from app.commands.router import router as commands_router
from app.db import (
    SerialWrites,
    checkpoint_forever,
    create_engine,
    create_sessionmaker,
)
from app.errors import install_error_handlers
from app.health.router import router as health_router
from app.keys.cache import KeyCache
from app.keys.router import router as keys_router
from app.leyline import keyring
from app.limits import BodySizeLimit
from app.loop_lag import watch_loop_lag
from app.nul_guard import NulGuard
from app.openapi import declare_rate_limited, install_contract
from app.origins import install as install_origin_checks
from app.ratelimit import RateLimiter
from app.runs.router import router as runs_router
from app.settings import Settings, get_settings
from app.telemetry.asyncapi import router as asyncapi_router
from app.telemetry.loops import start_telemetry
from app.telemetry.router import router as telemetry_router
from app.telemetry.tickets import router as tickets_router
from app.telemetry.ws import router as ws_router
from app.wiring import EventApplier, OutboxRelay
from app.workers.reaper import Reaper
from app.workers.router import router as workers_router

log = logging.getLogger("esper.gateway")


def _start_background(app: FastAPI, settings: Settings) -> list[asyncio.Task[None]]:
    redis = app.state.redis
    maker = app.state.writes = SerialWrites(
        app.state.sessionmaker, serial=app.state.engine.dialect.name == "sqlite"
    )
    app.state.waiters = CommandWaiters()
    applier = EventApplier(maker, redis, app.state.waiters, settings.telemetry_maxlen)
    app.state.relay = OutboxRelay(
        maker,
        redis,
        settings.outbox_interval_s,
        telemetry_maxlen=settings.telemetry_maxlen,
        reads=app.state.sessionmaker,
    )
    loops = [
        app.state.relay.run_forever(),
        EventConsumer(maker, redis, applier).run_forever(),
        Reaper(
            maker,
            redis,
            settings.worker_ttl_s,
            settings.reaper_interval_s,
            command_expire_s=settings.command_expire_s,
            telemetry_maxlen=settings.telemetry_maxlen,
            relay=app.state.relay,
        ).run_forever(),
    ]
    loops += start_telemetry(app, settings)
    loops.append(
        app.state.keys.reload_forever(app.state.sessionmaker, settings.key_reload_s)
    )
    loops.append(watch_loop_lag())
    if app.state.engine.dialect.name == "sqlite":
        loops.append(checkpoint_forever(app.state.engine))
    for extra in getattr(app.state, "extra_loops", []):
        loops.append(extra(app))
    return [asyncio.create_task(loop) for loop in loops]


async def _announce_admin(app: FastAPI, settings: Settings) -> None:
    token = await ensure_bootstrap_admin(app.state.sessionmaker, settings)
    if token:
        # Printed once: the key is stored hashed, so this is the only chance.
        log.warning("generated the first admin token (shown once): %s", token)
        print(f"ESPER ADMIN TOKEN (shown once): {token}", flush=True)
    if not settings.auth_enabled:
        log.warning("ESPER_AUTH=off: authentication is disabled (local mode only)")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    keyring(settings)  # refuses to start without a secret outside local mode
    engine = create_engine(settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.keys = KeyCache()
    app.state.rate_limit = RateLimiter(settings)
    app.state.redis = Redis.from_url(settings.redis_url, health_check_interval=10)
    await _announce_admin(app, settings)
    tasks = _start_background(app, settings)
    # Startup's objects (modules, routes, models) never become garbage: keep
    # full collections from walking them (30 ms pauses on the event loop).
    gc.freeze()
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await app.state.hub.close()
        await app.state.redis.aclose()
        await engine.dispose()


def _mount_dashboard(app: FastAPI) -> None:
    try:
        module = importlib.import_module("app.dashboard.router")
    except ImportError:
        return
    module.mount_dashboard(app)


# aiosqlite runs each statement on its own thread and hands the result back to
# the event loop: every hand-off needs the GIL, and at CPython's default 5 ms
# switch interval a busy loop thread made a command's commit and its ack wait
# several milliseconds per statement.
GIL_SWITCH_INTERVAL_S = 0.0005


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    if settings.auth_enabled is False and not settings.local_mode:
        raise RuntimeError("ESPER_AUTH=off is only allowed in local mode")
    app = FastAPI(
        title="Esper",
        version="0.1.0",
        lifespan=lifespan,
        description="Control plane for training morphogenetic networks.",
    )
    app.state.settings = settings
    # Opened here, so a store the gateway cannot use stops it at start.
    app.state.artifacts = ArtifactReader(
        settings.artifact_store_url, settings.artifact_options
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(NulGuard)
    install_origin_checks(app, settings.origins)
    install_error_handlers(app)
    for router in (
        health_router,
        runs_router,
        artifacts_router,
        commands_router,
        workers_router,
        catalogue_router,
        keys_router,
        ws_router,
        telemetry_router,
        tickets_router,
        asyncapi_router,
    ):
        app.include_router(router)
    install_contract(app)
    # app/ratelimit.py limits every authenticated operation but the fleet halt.
    declare_rate_limited(app, exempt={"emergency_halt_all"})
    Instrumentator(excluded_handlers=["/metrics"]).instrument(app).expose(
        app, include_in_schema=False
    )
    _mount_dashboard(app)
    if settings.bench_bare:
        app.add_api_route("/bench/bare", _bare, include_in_schema=False)
    return app


async def _bare() -> dict[str, bool]:
    """The api-throughput baseline: FastAPI with no Esper work at all."""
    return {"ok": True}
