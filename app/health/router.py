"""Liveness and readiness."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.deps import RedisDep, SessionDep
from app.errors import error_body

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    """200 while the process serves."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="readyz",
    responses={503: {"description": "A dependency is down."}},
)
async def readyz(session: SessionDep, redis: RedisDep) -> Any:
    """200 when the database and Redis answer; 503 naming the one that does not."""
    down: list[str] = []
    try:
        await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except (SQLAlchemyError, OSError):
        down.append("database")
    try:
        await redis.ping()
    except (RedisError, OSError):
        down.append("redis")
    if down:
        return JSONResponse(
            error_body(
                "dependency_down",
                f"Not ready: {', '.join(down)} unreachable.",
                {"down": down},
            ),
            status_code=503,
        )
    return {"status": "ready", "database": "ok", "redis": "ok"}
