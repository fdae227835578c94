"""`devices` is bounded by the schema and by what registered workers report
(issue 20, item 2): no spec may ask one worker for 60 rank processes."""

import time
import uuid
from typing import Any

import httpx
import pytest
import redis

from api_schemas.bus import WorkerEvent
from api_schemas.enums import WorkerState
from workers.bus import publish_event

CPU = {"task": "digits", "epochs": 1, "device": "cpu"}


def register(redis_url: str, client: httpx.Client, **capabilities: Any) -> str:
    """A CPU worker's registration, as workers/runner.py publishes it."""
    worker_id = f"w-bound-{uuid.uuid4().hex[:6]}"
    event = WorkerEvent(
        worker_id=worker_id, state=WorkerState.idle, capabilities=capabilities
    )
    publish_event(redis.Redis.from_url(redis_url), event)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        ids = [w["id"] for w in client.get("/api/v1/workers").json()]
        if worker_id in ids:
            return worker_id
        time.sleep(0.1)
    raise AssertionError("the gateway never recorded the worker")


def create(client: httpx.Client, **fields: Any) -> httpx.Response:
    return client.post("/api/v1/runs", json={**CPU, **fields})


@pytest.mark.parametrize("devices", [60, 17, 0, -1, [0, 0], [], list(range(17)), [64]])
def test_out_of_bound_devices_are_refused_by_the_schema(
    client: httpx.Client, devices: Any
) -> None:
    response = create(client, devices=devices)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_devices_are_bounded_by_the_registered_workers(
    client: httpx.Client, module_redis_url: str
) -> None:
    register(module_redis_url, client, cpu_count=2, gpu_count=0)
    assert create(client, devices=2).status_code == 201
    for devices in (3, 8, 16):
        response = create(client, devices=devices)
        assert response.status_code == 422, devices
        assert response.json()["error"]["code"] == "devices_unavailable"
    # A GPU run asks for GPUs, which no registered worker has.
    refused = create(client, device="cuda", devices=[0, 1])
    assert refused.json()["error"]["code"] == "devices_unavailable"
    register(module_redis_url, client, cpu_count=64, gpu_count=0)
    assert create(client, devices=8).status_code == 201  # 8 CPU ranks at most
    assert create(client, devices=9).status_code == 422


@pytest.mark.parametrize(
    "field",
    [
        {"labels": {f"k{i}": "v" for i in range(33)}},
        {"labels": {"k": "v" * 201}},
        {"name": "n" * 201},
        {"task": "t" * 201},
        {"model": {"options": {"k": "v" * 201}}},
        {"model": {"options": {f"k{i}": 1 for i in range(33)}}},
        {"morphogenesis": {"blueprints": ["b"] * 65}},
        {"morphogenesis": {"slots": ["s"] * 65}},
        {"morphogenesis": {"gates": {f"g{i}": 0.5 for i in range(33)}}},
        {"morphogenesis": {"policy": "p" * 201}},
    ],
)
def test_every_list_map_and_string_of_the_spec_is_bounded(
    client: httpx.Client, field: dict[str, Any]
) -> None:
    assert create(client, **field).status_code == 422
