"""Liveness and readiness bodies (API.md, Health and metrics)."""

from typing import Literal

from pydantic import BaseModel, Field


class Liveness(BaseModel):
    status: Literal["ok"] = Field(description="Always `ok` while the process serves.")


class Readiness(BaseModel):
    """200 body of /readyz; a 503 is the error model naming what is down
    (`dependency_down`, `details.down`)."""

    status: Literal["ready"] = Field(description="`ready`.")
    database: Literal["ok"] = Field(description="The database answered.")
    redis: Literal["ok"] = Field(description="Redis answered.")
