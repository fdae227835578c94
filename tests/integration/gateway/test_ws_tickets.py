"""Issue 20, item 5: WebSocket tickets, tokens out of logs, origins, revocation.

One gateway with auth on and uvicorn's access log on (`--log-level info`), so
the log holds every request line as an operator's would.
"""

import sqlite3
import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from app.server import gateway_argv
from tests.fixtures import gateway as gateway_fixture
from tests.fixtures.gateway import (
    GatewayProcess,
    bearer,
    create_key,
    running_gateway,
    secured_gateway,
    sqlite_url,
)

ADMIN_TOKEN = "esk_test_admin_token_for_tickets"
ALLOWED = "http://ops.example.com"
FOREIGN = "http://evil.example.com"
RELOAD_S = 1.0


@pytest.fixture(scope="module")
def gateway(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("tickets")
    argv = gateway_argv

    def verbose(host: str, port: int, *extra: str) -> list[str]:
        return argv(host, port, *extra, "--log-level", "info")  # the last one wins

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gateway_fixture, "gateway_argv", verbose)
        with secured_gateway(
            module_redis_url,
            tmp,
            ADMIN_TOKEN,
            ESPER_ALLOWED_ORIGINS=ALLOWED,
            ESPER_KEY_RELOAD_S=str(RELOAD_S),
        ) as gw:
            yield gw


def new_key(gw: GatewayProcess, role: str = "viewer") -> dict[str, str]:
    with gw.client() as client:
        return create_key(client, ADMIN_TOKEN, role, role)


def ticket(gw: GatewayProcess, token: str) -> str:
    with gw.client() as client:
        response = client.post("/api/v1/ws-tickets", headers=bearer(token))
    assert response.status_code == 201, response.text
    assert response.json()["expires_in"] == 30
    value: str = response.json()["ticket"]
    return value


def ws_url(gw: GatewayProcess, query: str = "") -> str:
    return gw.url.replace("http", "ws") + "/ws/fleet" + query


def close_code(url: str, timeout: float = 5, origin: str | None = None) -> int | None:
    """The close code the server sends (None: still open after `timeout`)."""
    with connect(url, origin=Origin(origin) if origin else None) as ws:
        try:
            while True:
                ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


def test_a_ticket_opens_one_websocket_only(gateway: GatewayProcess) -> None:
    key = new_key(gateway)
    once = ticket(gateway, key["token"])
    assert close_code(ws_url(gateway, f"?ticket={once}"), timeout=1) is None
    assert close_code(ws_url(gateway, f"?ticket={once}")) == 4401
    assert close_code(ws_url(gateway, "?ticket=made-up")) == 4401


def test_a_revoked_keys_open_socket_closes_within_the_reload_interval(
    gateway: GatewayProcess,
) -> None:
    """Revoked in the database, as another replica does: this gateway learns it
    at its next key reload and closes the socket 4401."""
    key = new_key(gateway)
    url = ws_url(gateway, f"?ticket={ticket(gateway, key['token'])}")
    with connect(url) as ws:
        ws.ping().wait(5)
        db = sqlite3.connect(gateway.env["ESPER_DATABASE_URL"].split("///", 1)[1])
        with db:
            db.execute(
                "UPDATE apikey SET revoked_at = CURRENT_TIMESTAMP WHERE id = ?",
                (key["id"],),
            )
        db.close()
        revoked_at = time.monotonic()
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=RELOAD_S * 2 + 2)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4401
    assert time.monotonic() - revoked_at < RELOAD_S * 2 + 1


def test_a_foreign_origin_may_not_change_state(gateway: GatewayProcess) -> None:
    admin = bearer(ADMIN_TOKEN)
    with gateway.client() as client:
        refused = client.post(
            "/api/v1/emergency/halt", headers={**admin, "Origin": FOREIGN}
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "origin_not_allowed"
        for origin in (ALLOWED, gateway.url):  # configured; same origin
            ok = client.post(
                "/api/v1/emergency/halt", headers={**admin, "Origin": origin}
            )
            assert ok.status_code == 202, ok.text
        # curl sends no Origin; reads are not checked.
        assert client.post("/api/v1/emergency/halt", headers=admin).status_code == 202
        assert client.get(
            "/api/v1/runs", headers={**admin, "Origin": FOREIGN}
        ).is_success


def test_cors_answers_only_configured_origins(gateway: GatewayProcess) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    with gateway.client() as client:
        allowed = client.options(
            "/api/v1/runs", headers={**preflight, "Origin": ALLOWED}
        )
        foreign = client.options(
            "/api/v1/runs", headers={**preflight, "Origin": FOREIGN}
        )
    assert allowed.headers.get("access-control-allow-origin") == ALLOWED
    assert "access-control-allow-origin" not in foreign.headers


def test_a_foreign_origin_may_not_open_a_websocket(gateway: GatewayProcess) -> None:
    key = new_key(gateway)
    url = ws_url(gateway, f"?ticket={ticket(gateway, key['token'])}")
    with pytest.raises(InvalidStatus) as info:
        connect(url, origin=Origin(FOREIGN)).close()
    assert info.value.response.status_code == 403
    allowed = ws_url(gateway, f"?ticket={ticket(gateway, key['token'])}")
    assert close_code(allowed, timeout=1, origin=ALLOWED) is None


def test_the_access_log_never_holds_a_token(gateway: GatewayProcess) -> None:
    """A session as the dashboard and curl make it, plus an old client that
    still puts its token in the URL (refused, and blanked in the log)."""
    key = new_key(gateway)
    token = key["token"]
    with gateway.client() as client:
        client.get("/api/v1/runs", headers=bearer(token))
        client.get("/api/v1/whoami", headers=bearer(token))
        client.get(f"/api/v1/runs?token={token}")
    used = ticket(gateway, token)
    assert close_code(ws_url(gateway, f"?ticket={used}&after=0-0"), timeout=1) is None
    assert close_code(ws_url(gateway, f"?token={token}")) == 4401
    time.sleep(0.5)  # the log is line-buffered; let the last lines land
    log = gateway.log()
    assert "/ws/fleet" in log and "/api/v1/whoami" in log  # the access log is on
    assert token not in log and ADMIN_TOKEN not in log
    assert used not in log
    assert "token=[redacted]" in log


def test_a_ticket_needs_a_token(gateway: GatewayProcess) -> None:
    with gateway.client() as client:
        response = client.post("/api/v1/ws-tickets")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_token"


@pytest.fixture(scope="module")
def local_gateway(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """`esper up`'s mode: auth off, so an Origin is the only thing to check."""
    tmp = tmp_path_factory.mktemp("local")
    with running_gateway(sqlite_url(tmp), module_redis_url, tmp) as gw:
        yield gw


def test_with_auth_off_a_foreign_page_can_neither_halt_nor_watch(
    local_gateway: GatewayProcess,
) -> None:
    with local_gateway.client() as client:
        foreign = client.post("/api/v1/emergency/halt", headers={"Origin": FOREIGN})
        assert foreign.status_code == 403
        assert foreign.json()["error"]["code"] == "origin_not_allowed"
        own = {"Origin": local_gateway.url}
        assert client.post("/api/v1/emergency/halt", headers=own).status_code == 202
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url(local_gateway), origin=Origin(FOREIGN)).close()
    assert info.value.response.status_code == 403
    assert (
        close_code(ws_url(local_gateway), timeout=1, origin=local_gateway.url) is None
    )
