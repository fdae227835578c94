"""`esper gateway`: the gateway alone, as a team service runs it.

No bundled Redis, no generated secrets, no local mode: it reads the deployment's
ESPER_* settings, refuses what production must not run on (no database named,
SQLite unless allowed, no signing secret, local mode), optionally migrates,
creates the first admin key once, then execs uvicorn with N processes. Every
process is a full gateway (relay, event consumer, reaper), as replicas are.
"""

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from rich.console import Console

from app.server import gateway_argv
from app.settings import Settings

DATABASE_ENV = "ESPER_DATABASE_URL"


class NotProductionReady(RuntimeError):
    """The environment lacks what a production gateway needs; says what."""


@dataclass
class GatewayOptions:
    host: str = "0.0.0.0"
    port: int = 8000
    # None: uvicorn's own default (WEB_CONCURRENCY, else 1).
    processes: int | None = None
    allow_sqlite: bool = False
    migrate: bool = False
    forwarded_allow_ips: str | None = None
    uvicorn_args: list[str] = field(default_factory=list)


def _is_set(env: Mapping[str, str], name: str) -> bool:
    # pydantic-settings matches names case-insensitively; so does this check.
    return any(key.upper() == name and value for key, value in env.items())


def production_problems(
    settings: Settings, env: Mapping[str, str], allow_sqlite: bool
) -> list[str]:
    problems = []
    if not _is_set(env, DATABASE_ENV):
        problems.append(
            f"{DATABASE_ENV} is not set: name the database "
            "(postgresql://user:password@host/db)"
        )
    elif settings.async_database_url.startswith("sqlite") and not allow_sqlite:
        problems.append(
            f"{DATABASE_ENV} is SQLite: use PostgreSQL for a team service, or "
            "pass --allow-sqlite (one host, one database file)"
        )
    if settings.local_mode:
        problems.append(
            "ESPER_LOCAL_MODE is set: `esper gateway` runs with production "
            "settings; use `esper up` for the all-in-one local stack"
        )
    if not settings.leyline_secret:
        problems.append(
            "ESPER_LEYLINE_SECRET is not set: every gateway and worker needs the "
            "same command-signing secret"
        )
    return problems


def check_production(
    settings: Settings, env: Mapping[str, str], allow_sqlite: bool
) -> None:
    problems = production_problems(settings, env, allow_sqlite)
    if problems:
        raise NotProductionReady("; ".join(problems))


async def bootstrap_admin(settings: Settings) -> str | None:
    """Create the first admin key here, once, before the processes start (each
    would otherwise race to create one on a fresh database)."""
    from app.auth import ensure_bootstrap_admin  # noqa: PLC0415 - gateway extra
    from app.db import create_engine, create_sessionmaker  # noqa: PLC0415

    engine = create_engine(settings)
    try:
        return await ensure_bootstrap_admin(create_sessionmaker(engine), settings)
    finally:
        await engine.dispose()


def uvicorn_argv(opts: GatewayOptions) -> list[str]:
    extra = []
    if opts.processes is not None:
        extra += ["--workers", str(opts.processes)]
    # Behind a proxy: trust its X-Forwarded-* from these addresses (uvicorn
    # also reads FORWARDED_ALLOW_IPS).
    extra.append("--proxy-headers")
    if opts.forwarded_allow_ips:
        extra += ["--forwarded-allow-ips", opts.forwarded_allow_ips]
    return gateway_argv(opts.host, opts.port, *extra, *opts.uvicorn_args)


def run_gateway(opts: GatewayOptions, console: Console) -> None:
    """Check, migrate if asked, bootstrap the admin key, exec uvicorn."""
    settings = Settings()
    check_production(settings, os.environ, opts.allow_sqlite)
    if opts.migrate:
        from app.migrate import upgrade  # noqa: PLC0415

        upgrade(settings.database_url)
        console.print("migrations applied")
    try:
        token = asyncio.run(bootstrap_admin(settings))
    except Exception as exc:  # an unmigrated or unreachable database
        raise NotProductionReady(
            f"could not read the API keys ({type(exc).__name__}: {exc}); is the "
            "database reachable and migrated (`esper migrate`, or --migrate)?"
        ) from exc
    if token:
        console.print(f"ESPER ADMIN TOKEN (shown once): {token}")
    argv = uvicorn_argv(opts)
    os.execv(argv[0], argv)
