"""Runs over real HTTP: create, read, list with cursors, filters, idempotency,
cancel."""

import uuid
from typing import Any

import httpx

SPEC = {"task": "digits", "epochs": 1, "labels": {"suite": "runs-api"}}


def create(
    client: httpx.Client, body: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    return client.post("/api/v1/runs", json=body or SPEC, headers=headers)


def test_create_then_get_returns_queued_run_with_spec(client: httpx.Client) -> None:
    response = create(client, {**SPEC, "name": "first"})
    assert response.status_code == 201
    run = response.json()
    assert run["state"] == "queued" and run["name"] == "first"
    assert run["spec"]["task"] == "digits" and run["spec"]["epochs"] == 1
    fetched = client.get(f"/api/v1/runs/{run['id']}").json()
    assert fetched["id"] == run["id"] and fetched["created_at"].endswith("Z")


def test_pagination_walks_every_run_once_newest_first(client: httpx.Client) -> None:
    label = f"page-{uuid.uuid4().hex[:6]}"
    made = [
        create(client, {**SPEC, "labels": {"batch": label}}).json()["id"]
        for _ in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "label": f"batch={label}"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/runs", params=params).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))


def test_state_filter_only_returns_that_state(client: httpx.Client) -> None:
    create(client)
    items = client.get("/api/v1/runs", params={"state": "queued"}).json()["items"]
    assert items and all(r["state"] == "queued" for r in items)
    assert (
        client.get("/api/v1/runs", params={"state": "completed"}).json()["items"] == []
    )


def test_idempotency_key_repeats_return_the_original(client: httpx.Client) -> None:
    key = uuid.uuid4().hex
    first = create(client, SPEC, **{"Idempotency-Key": key})
    again = create(client, SPEC, **{"Idempotency-Key": key})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = create(client, {**SPEC, "epochs": 2}, **{"Idempotency-Key": key})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"


def test_unknown_run_is_404_with_error_model(client: httpx.Client) -> None:
    response = client.get(f"/api/v1/runs/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "run_not_found"


def test_cancel_of_a_queued_run_ends_it_in_the_ledger(client: httpx.Client) -> None:
    """No worker here: the gateway ends the queued run and applies the stop."""
    run = create(client).json()
    response = client.post(f"/api/v1/runs/{run['id']}/cancel")
    assert response.status_code == 202
    command = response.json()
    assert command["type"] == "stop" and command["run_id"] == run["id"]
    assert command["state"] == "applied"
    assert command["result"] == {"ended_by": "gateway", "state": "cancelled"}
    assert client.get(f"/api/v1/runs/{run['id']}").json()["state"] == "cancelled"
    ledger = client.get(f"/api/v1/runs/{run['id']}/commands").json()["items"]
    assert [c["id"] for c in ledger] == [command["id"]]


def test_catalogue_endpoints_list_tasks_and_blueprints(client: httpx.Client) -> None:
    tasks = {t["name"] for t in client.get("/api/v1/tasks").json()}
    assert {"digits", "spirals", "synthetic-images"} <= tasks
    blueprints = client.get("/api/v1/blueprints").json()
    assert len(blueprints) >= 6
    assert all({"name", "params_estimate", "risk"} <= set(b) for b in blueprints)


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["redis"] == "ok"


def test_openapi_names_every_operation(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    assert operations and all(
        op.get("operationId") and op.get("tags") for op in operations
    )
