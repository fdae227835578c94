"""The error body of every 4xx/5xx response (API.md, Conventions)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. `run_not_found`.")
    message: str = Field(description="Human-readable explanation.")
    details: Any = Field(default=None, description="Optional structured details.")


class ErrorResponse(BaseModel):
    """`{"error": {"code", "message", "details"}}`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "run_not_found",
                        "message": "No run with id ...",
                        "details": None,
                    }
                }
            ]
        }
    )
    error: ErrorBody = Field(description="The error.")
