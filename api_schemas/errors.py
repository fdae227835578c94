"""The error body of every 4xx/5xx response (API.md, Conventions)."""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorCode(StrEnum):
    """Every `error.code` the gateway can answer with. A unit test scans app/
    for the codes it raises and fails on one missing here."""

    # Request shape (400, 413, 422)
    bad_request = "bad_request"
    invalid_json = "invalid_json"
    invalid_characters = "invalid_characters"
    invalid_cursor = "invalid_cursor"
    invalid_label_filter = "invalid_label_filter"
    unsupported_glob = "unsupported_glob"
    invalid_step_range = "invalid_step_range"
    payload_too_large = "payload_too_large"
    validation_error = "validation_error"
    # Run specs and commands (422)
    unknown_task = "unknown_task"
    unknown_policy = "unknown_policy"
    unknown_blueprint = "unknown_blueprint"
    unknown_slot = "unknown_slot"
    unknown_run = "unknown_run"
    unknown_checkpoint = "unknown_checkpoint"
    resume_mismatch = "resume_mismatch"
    devices_unavailable = "devices_unavailable"
    # Who is calling (401, 403)
    unauthorized = "unauthorized"
    missing_token = "missing_token"
    invalid_token = "invalid_token"
    forbidden = "forbidden"
    insufficient_role = "insufficient_role"
    origin_not_allowed = "origin_not_allowed"
    # Resources (404, 405, 409, 416)
    not_found = "not_found"
    run_not_found = "run_not_found"
    command_not_found = "command_not_found"
    worker_not_found = "worker_not_found"
    key_not_found = "key_not_found"
    artifact_not_found = "artifact_not_found"
    method_not_allowed = "method_not_allowed"
    conflict = "conflict"
    idempotency_conflict = "idempotency_conflict"
    run_terminal = "run_terminal"
    range_not_satisfiable = "range_not_satisfiable"
    # Load and dependencies (429, 503, 500)
    rate_limited = "rate_limited"
    unavailable = "unavailable"
    artifact_store_unavailable = "artifact_store_unavailable"
    dependency_down = "dependency_down"
    http_error = "http_error"
    internal_error = "internal_error"


class ErrorBody(BaseModel):
    code: ErrorCode = Field(
        description="Machine-readable error code, e.g. `run_not_found`."
    )
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
