"""Run specs name tasks and policies from a registry (SECURITY.md): a gateway
outside local mode refuses import paths and names no registered worker serves,
and accepts a plug-in once a registered worker reports it."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from api_schemas.bus import DATA_FIELD, EVENTS_STREAM, WorkerEvent
from api_schemas.enums import WorkerState
from tests.fixtures.gateway import GatewayProcess, running_gateway, sqlite_url
from tests.integration.worker.busio import eventually

ADMIN = "trusted-names-admin-token"
# What each did on a worker before: killed it, hung the run, ran a module's
# top-level code, called print.
HOSTILE = [
    {"task": "digits", "morphogenesis": {"policy": "os:abort"}},
    {"task": "digits", "morphogenesis": {"policy": "signal:pause"}},
    {"task": "this:x"},
    {"task": "builtins:print"},
]


@pytest.fixture(scope="module")
def gateway(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("trusted")
    with pytest.MonkeyPatch.context() as env:
        # The default outside local mode: no import paths at all.
        env.delenv("ESPER_ALLOW_IMPORT_PATHS", raising=False)
        with running_gateway(
            sqlite_url(tmp),
            module_redis_url,
            tmp,
            ESPER_AUTH="on",
            ESPER_LOCAL_MODE="0",
            ESPER_ADMIN_TOKEN=ADMIN,
        ) as gateway:
            yield gateway


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with gateway.client() as client:
        client.headers["Authorization"] = f"Bearer {ADMIN}"
        yield client


def submit(client: httpx.Client, spec: dict[str, Any]) -> httpx.Response:
    return client.post("/api/v1/runs", json={"epochs": 1, **spec})


@pytest.mark.parametrize("spec", HOSTILE, ids=lambda s: str(s)[:40])
def test_import_paths_are_refused_outside_local_mode(
    client: httpx.Client, spec: dict[str, Any]
) -> None:
    response = submit(client, spec)
    assert response.status_code == 422, response.text
    kind = "policy" if "morphogenesis" in spec else "task"
    assert response.json()["error"]["code"] == f"unknown_{kind}"


def test_unknown_names_are_refused_and_builtins_accepted(client: httpx.Client) -> None:
    assert submit(client, {"task": "no-such-task"}).status_code == 422
    refused = submit(client, {"task": "digits", "morphogenesis": {"policy": "nope"}})
    assert refused.json()["error"]["code"] == "unknown_policy"
    assert submit(client, {"task": "digits"}).status_code == 201


def test_a_plugin_a_registered_worker_serves_is_listed_and_accepted(
    client: httpx.Client, module_redis_url: str
) -> None:
    plugin = {"task": "probe-task", "morphogenesis": {"policy": "probe-policy"}}
    assert submit(client, plugin).status_code == 422
    event = WorkerEvent(
        worker_id="w-plugins",
        state=WorkerState.idle,
        capabilities={"tasks": ["digits", "probe-task"], "policies": ["probe-policy"]},
    )
    bus = redis.Redis.from_url(module_redis_url)
    bus.xadd(EVENTS_STREAM, {DATA_FIELD: event.model_dump_json()})
    bus.close()

    def listed() -> bool:
        tasks = client.get("/api/v1/tasks").json()
        return any(t["name"] == "probe-task" and not t["builtin"] for t in tasks)

    eventually(listed, what="the plug-in task listed")
    assert submit(client, plugin).status_code == 201
