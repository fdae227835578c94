"""The OpenAPI document says what the server does (issue 20, item 9): the bearer
scheme, per operation the errors it can really return, the error codes as an
enum, and readyz's two bodies."""

from typing import Any

import httpx
import pytest

from api_schemas import ErrorCode

ERROR_REF = "#/components/schemas/ErrorResponse"
PUBLIC = {"healthz", "readyz"}
# Operations whose path names no resource: a 404 is never theirs.
NO_404 = {
    "list_runs",
    "create_run",
    "list_workers",
    "list_blueprints",
    "list_tasks",
    "list_keys",
    "create_key",
    "whoami",
    "emergency_halt_all",
    "registry_reset",
    "healthz",
    "readyz",
}
HAS_404 = {"get_run", "get_command", "cancel_run", "drain_worker", "revoke_key"}
CONFLICTS = {"create_run", "cancel_run", "create_command"}
WITH_BODY = {"create_run", "create_command", "create_key"}
ABOVE_VIEWER = {"create_run", "cancel_run", "emergency_halt_all", "list_keys"}
# Every key is at least a viewer, and reads are not Origin-checked: no 403.
VIEWER_READS = {
    "list_runs",
    "get_run",
    "list_run_seeds",
    "list_run_checkpoints",
    "list_run_artifacts",
    "download_run_artifact",
    "list_run_telemetry",
    "list_run_commands",
    "get_command",
    "list_workers",
    "list_blueprints",
    "list_tasks",
    "whoami",
}


@pytest.fixture
def operations(client: httpx.Client) -> dict[str, dict[str, Any]]:
    spec = client.get("/openapi.json").json()
    return {
        op["operationId"]: op for path in spec["paths"].values() for op in path.values()
    }


def errors(operation: dict[str, Any]) -> set[int]:
    return {int(s) for s in operation["responses"] if s[0] in "45"}


def test_the_bearer_scheme_is_declared_and_used(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["HTTPBearer"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    for path, item in spec["paths"].items():
        for op in item.values():
            secured = op.get("security") == [{"HTTPBearer": []}]
            assert secured == path.startswith("/api/"), path


def declaring(operations: dict[str, dict[str, Any]], status: int) -> set[str]:
    return {name for name, op in operations.items() if status in errors(op)}


def test_each_operation_declares_the_errors_it_can_return(
    operations: dict[str, dict[str, Any]],
) -> None:
    every = set(operations)
    assert {"list_workers", "list_tasks", "list_blueprints", "healthz"} <= every
    assert declaring(operations, 400) == every  # a NUL in any path or query
    secured = {name for name, op in operations.items() if op.get("security")}
    assert declaring(operations, 401) == secured
    assert HAS_404 <= declaring(operations, 404) <= every - NO_404
    assert declaring(operations, 409) == CONFLICTS
    assert ABOVE_VIEWER <= declaring(operations, 403) <= every - VIEWER_READS
    assert WITH_BODY <= declaring(operations, 413) <= every - VIEWER_READS


def test_every_error_response_is_the_error_model(
    operations: dict[str, dict[str, Any]],
) -> None:
    for name, op in operations.items():
        for status, response in op["responses"].items():
            if status[0] in "45":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_REF}, (name, status)


def test_429_is_declared_where_rate_limits_apply(
    operations: dict[str, dict[str, Any]],
) -> None:
    # Every authenticated operation is rate limited (app/ratelimit.py) but the
    # fleet-wide emergency halt; the health routes are not.
    secured = {name for name, op in operations.items() if op.get("security")}
    assert declaring(operations, 429) == secured - {"emergency_halt_all"}
    assert not declaring(operations, 429) & PUBLIC


def test_error_code_is_the_enum(client: httpx.Client) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    code = schemas["ErrorBody"]["properties"]["code"]
    enum = schemas[code["$ref"].rsplit("/", 1)[1]]["enum"]
    assert set(enum) == {c.value for c in ErrorCode}


def test_readyz_is_typed_for_200_and_503(
    operations: dict[str, dict[str, Any]],
) -> None:
    responses = operations["readyz"]["responses"]
    ok = responses["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Readiness"}
    down = responses["503"]["content"]["application/json"]["schema"]
    assert down == {"$ref": ERROR_REF}
