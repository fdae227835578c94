"""The OpenAPI document declares, per operation, the errors it can really
return (API.md, Conventions), derived from what the gateway does rather than
listed by hand on each route:

- 400 everywhere: a NUL in any path or query (app/nul_guard.py); also bad JSON
  and crafted cursors.
- 401 where a token is checked; 403 where the role needed is above `viewer`
  (every key is at least a viewer) or the method changes state (a foreign
  `Origin` is refused, app/origins.py).
- 404 where the path names a resource; 422 where a query, header or body is
  parsed, or a path parameter is constrained (an artifact's name: at most 300
  characters); 413 where the method carries a body (app/limits.py).
- 409 for the operations in CONFLICTS; other codes a route declares itself
  (416, 503) are kept.
- 429 on every authenticated operation but the exempt ones, once the rate
  limiter calls `declare_rate_limited` (the one place 429 is declared).
"""

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api_schemas.enums import Role
from app.deps import REQUIRED_ROLES

DESCRIPTIONS = {
    400: "Malformed request: JSON, cursor, or a NUL character in the path/query.",
    401: "Missing, invalid or revoked bearer token.",
    403: "The token's role is too low, or the request's Origin is not allowed.",
    404: "No such resource.",
    409: "Conflicts with the resource's state (a terminal run, a reused "
    "Idempotency-Key).",
    413: "Request body too large.",
    416: "Range not satisfiable.",
    422: "Validation failed.",
    429: "Rate limited; retry after `Retry-After` seconds.",
    503: "A dependency is unavailable.",
}
# What the derivation cannot see: the operations whose rules answer 409.
CONFLICTS = frozenset({"create_run", "cancel_run", "create_command"})
# Codes a route may still declare for itself (the rest are derived here).
OWN_CODES = frozenset({416, 503})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def declare_rate_limited(app: FastAPI, *, exempt: Iterable[str] = ()) -> None:
    """For the rate limiter: every authenticated operation, but those whose
    operation ids are `exempt` (the emergency halt), declares 429."""
    app.state.rate_limit_exempt = frozenset(exempt)


def _dependants(dependant: Any) -> Iterator[Any]:
    """The route's own dependant and each it depends on, at any depth."""
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI keeps an included router whole
            yield from _api_routes(included.routes)


def _role(route: APIRoute) -> Role | None:
    roles = [REQUIRED_ROLES.get(d.call) for d in _dependants(route.dependant)]
    return next((r for r in roles if r is not None), None)


def _validated(dependant: Any) -> bool:
    """Whether FastAPI validates a part of the request here (422 when it fails).
    Plain string ids in the path cannot fail; a path parameter with a bound can,
    and so can a bounded header (`Range`): the fuzz run found both undeclared."""
    constrained = any(p.field_info.metadata for p in dependant.path_params)
    parts = dependant.query_params or dependant.header_params or dependant.body_params
    return bool(parts) or constrained


def error_codes(route: APIRoute, exempt: frozenset[str] | None) -> set[int]:
    """The error statuses this route can answer with."""
    every, role = list(_dependants(route.dependant)), _role(route)
    in_path = any(d.path_params for d in every)
    parsed = any(_validated(d) for d in every)
    changes = bool((route.methods or set()) & STATE_CHANGING)
    codes = {400} | {c for c in route.responses if c in OWN_CODES}
    codes |= {422} if parsed else set()
    codes |= {404} if in_path else set()
    codes |= {413} if changes else set()
    codes |= {409} if route.operation_id in CONFLICTS else set()
    if role is not None:
        codes.add(401)
        if role != Role.viewer or changes:
            codes.add(403)
        if exempt is not None and route.operation_id not in exempt:
            codes.add(429)
    return codes


def _set_errors(operation: dict[str, Any], codes: set[int]) -> None:
    responses = operation.setdefault("responses", {})
    for status in [s for s in responses if s[0] in "45"]:
        del responses[status]
    ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": DESCRIPTIONS.get(code, "Error."),
            "content": {"application/json": {"schema": ref}},
        }


def install_contract(app: FastAPI) -> None:
    """Replace each operation's declared errors with the derived ones."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        # Routes already name the error model (app.errors.error_responses).
        assert "ErrorResponse" in schema["components"]["schemas"]
        exempt = getattr(app.state, "rate_limit_exempt", None)
        by_id = {r.operation_id: r for r in _api_routes(app.router.routes)}
        for path in schema["paths"].values():
            for operation in path.values():
                route = by_id.get(operation.get("operationId"))
                if route is not None:
                    _set_errors(operation, error_codes(route, exempt))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
