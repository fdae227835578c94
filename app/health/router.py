"""Liveness and readiness."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api_schemas.health import Liveness, Readiness
from app.deps import RedisDep, SessionDep
from app.errors import error_body, error_responses

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> Liveness:
    """200 while the process serves."""
    return Liveness(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Readiness,
    responses=error_responses(503),
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
    return Readiness(status="ready", database="ok", redis="ok")
