"""Every endpoint x every role (and no token, and a revoked token), per API.md."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.gateway import (
    GatewayProcess,
    bearer,
    create_key,
    secured_gateway,
    sqlite_url,
)

ADMIN_TOKEN = "esk_test_admin_token_for_the_matrix"
ORDER = ["viewer", "operator", "admin"]

# (method, path template, body, least role or None for public)
ENDPOINTS = [
    ("GET", "/healthz", None, None),
    ("GET", "/readyz", None, None),
    ("GET", "/metrics", None, None),
    ("POST", "/api/v1/runs", {"task": "digits"}, "operator"),
    ("GET", "/api/v1/runs", None, "viewer"),
    ("GET", "/api/v1/runs/{run}", None, "viewer"),
    ("POST", "/api/v1/runs/{run}/cancel", None, "operator"),
    ("GET", "/api/v1/runs/{run}/seeds", None, "viewer"),
    ("GET", "/api/v1/runs/{run}/checkpoints", None, "viewer"),
    ("GET", "/api/v1/runs/{run}/artifacts", None, "viewer"),
    ("POST", "/api/v1/runs/{run}/commands", {"type": "pause"}, "operator"),
    ("GET", "/api/v1/runs/{run}/commands", None, "viewer"),
    ("GET", "/api/v1/commands/{command}", None, "viewer"),
    ("POST", "/api/v1/emergency/halt", None, "admin"),
    ("POST", "/api/v1/registry/reset", None, "admin"),
    ("GET", "/api/v1/workers", None, "viewer"),
    ("GET", "/api/v1/blueprints", None, "viewer"),
    ("GET", "/api/v1/tasks", None, "viewer"),
    ("GET", "/api/v1/whoami", None, "viewer"),
    ("POST", "/api/v1/ws-tickets", None, "viewer"),
    ("POST", "/api/v1/keys", {"name": "k", "role": "viewer"}, "admin"),
    ("GET", "/api/v1/keys", None, "admin"),
    ("DELETE", "/api/v1/keys/{key}", None, "admin"),
]


@pytest.fixture(scope="module")
def secured(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("auth")
    with secured_gateway(module_redis_url, tmp, ADMIN_TOKEN) as gateway:
        yield gateway


def make_key(client: httpx.Client, role: str) -> dict[str, str]:
    return create_key(client, ADMIN_TOKEN, role, role)


@pytest.fixture(scope="module")
def tokens(secured: GatewayProcess) -> dict[str, str | None]:
    with secured.client() as client:
        made = {role: make_key(client, role)["token"] for role in ORDER}
        revoked = make_key(client, "admin")
        client.delete(f"/api/v1/keys/{revoked['id']}", headers=bearer(ADMIN_TOKEN))
    return {**made, "none": None, "revoked": revoked["token"]}


def expected(least: str | None, who: str) -> int | None:
    """None means 2xx."""
    if least is None:
        return None
    if who in ("none", "revoked"):
        return 401
    return None if ORDER.index(who) >= ORDER.index(least) else 403


def fill(path: str, client: httpx.Client) -> str:
    admin = bearer(ADMIN_TOKEN)
    run = client.post("/api/v1/runs", json={"task": "digits"}, headers=admin).json()
    # A pause, not a cancel: a cancel ends a queued run (no worker here), and
    # the run's other endpoints would answer 409.
    command = client.post(
        f"/api/v1/runs/{run['id']}/commands", json={"type": "pause"}, headers=admin
    ).json()
    key = make_key(client, "viewer")
    return path.format(run=run["id"], command=command["id"], key=key["id"])


@pytest.mark.parametrize("who", ["none", "revoked", "viewer", "operator", "admin"])
def test_every_endpoint_answers_as_api_md_says(
    secured: GatewayProcess, tokens: dict[str, str | None], who: str
) -> None:
    with secured.client() as client:
        token = tokens[who]
        headers = bearer(token) if token else {}
        wrong: list[str] = []
        for method, template, body, least in ENDPOINTS:
            path = fill(template, client) if "{" in template else template
            response = client.request(method, path, json=body, headers=headers)
            want = expected(least, who)
            ok = (
                (200 <= response.status_code < 300)
                if want is None
                else response.status_code == want
            )
            if not ok:
                wrong.append(f"{method} {template}: {response.status_code}")
            if want in (401, 403):
                assert response.json()["error"]["code"]
    assert wrong == []


def test_a_download_needs_a_viewer_token(
    secured: GatewayProcess, tokens: dict[str, str | None]
) -> None:
    """No run has artifacts here: a viewer gets as far as the 404."""
    with secured.client() as client:
        url = fill("/api/v1/runs/{run}/artifacts/model.safetensors", client)
        assert client.get(url).status_code == 401
        viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
        response = client.get(url, headers=viewer)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "artifact_not_found"


def test_websocket_requires_a_token(
    secured: GatewayProcess, tokens: dict[str, str | None]
) -> None:
    from websockets.exceptions import ConnectionClosed  # noqa: PLC0415
    from websockets.sync.client import connect  # noqa: PLC0415

    ws_url = secured.url.replace("http", "ws") + "/ws/fleet"
    with connect(ws_url) as ws, pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4401
    with secured.client() as client:
        viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
        ticket = client.post("/api/v1/ws-tickets", headers=viewer).json()["ticket"]
    with connect(f"{ws_url}?ticket={ticket}") as ws:
        ws.ping().wait(5)
    # A token never travels in a URL (API.md): `?token=` is not accepted.
    token_url = f"{ws_url}?token={tokens['viewer']}"
    with connect(token_url) as ws, pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4401
    with connect(
        ws_url, additional_headers={"Authorization": f"Bearer {tokens['viewer']}"}
    ) as ws:
        ws.ping().wait(5)


def test_refuses_to_start_without_a_secret_outside_local_mode(
    module_redis_url: str, tmp_path: Path
) -> None:
    from tests.fixtures.gateway import gateway_env  # noqa: PLC0415

    env = gateway_env(
        sqlite_url(tmp_path),
        module_redis_url,
        tmp_path,
        ESPER_LOCAL_MODE="0",
        ESPER_AUTH="on",
    )
    env.pop("ESPER_LEYLINE_SECRET")
    gateway = GatewayProcess(env, tmp_path / "gw.log")
    with pytest.raises(RuntimeError, match="gateway exited"):
        gateway.start(timeout=20)
    assert "ESPER_LEYLINE_SECRET is required" in gateway.log()
