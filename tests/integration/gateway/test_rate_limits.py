"""Per-key rate limits (API.md Conventions; issue 20, item 8): past its limit a
key gets 429 with Retry-After in the error format, emergency halts still pass,
and another key is unaffected."""

from collections.abc import Iterator

import httpx
import pytest

from app.settings import Settings
from tests.fixtures.gateway import (
    GatewayProcess,
    bearer,
    create_key,
    secured_gateway,
)

ADMIN_TOKEN = "esk_test_admin_token_for_rate_limits"
ADMIN = bearer(ADMIN_TOKEN)
READS, WRITES = 5, 4
SPEC = {"task": "digits", "epochs": 1}


@pytest.fixture(scope="module")
def limited(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("ratelimit")
    with secured_gateway(
        module_redis_url,
        tmp,
        ADMIN_TOKEN,
        ESPER_RATE_LIMIT=f"{READS}/minute",
        ESPER_RATE_LIMIT_WRITES=f"{WRITES}/minute",
    ) as gateway:
        yield gateway


def key(client: httpx.Client, name: str, role: str = "operator") -> dict[str, str]:
    return bearer(create_key(client, ADMIN_TOKEN, name, role)["token"])


def assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"


def test_a_key_past_its_limits_gets_429_and_others_do_not(
    limited: GatewayProcess,
) -> None:
    with limited.client() as client:
        alice, bob = key(client, "alice"), key(client, "bob")
        for _ in range(READS):
            assert client.get("/api/v1/runs", headers=alice).status_code == 200
        assert_limited(client.get("/api/v1/runs", headers=alice))
        runs = [
            client.post("/api/v1/runs", json=SPEC, headers=alice) for _ in range(WRITES)
        ]
        assert [r.status_code for r in runs] == [201] * WRITES
        assert_limited(client.post("/api/v1/runs", json=SPEC, headers=alice))
        # Another key has its own counters.
        assert client.get("/api/v1/runs", headers=bob).status_code == 200
        assert client.post("/api/v1/runs", json=SPEC, headers=bob).status_code == 201
        # A limited key may still halt a run.
        halt = {"type": "emergency_halt", "reason": "limited"}
        path = f"/api/v1/runs/{runs[0].json()['id']}/commands"
        assert client.post(path, json=halt, headers=alice).status_code == 202
        # ...but not send it another command.
        pause = client.post(path, json={"type": "pause"}, headers=alice)
        assert_limited(pause)


def test_the_fleet_halt_is_never_limited(limited: GatewayProcess) -> None:
    with limited.client() as client:
        for _ in range(WRITES + 1):  # the admin key made keys, and more
            client.post("/api/v1/runs", json=SPEC, headers=ADMIN)
        assert_limited(client.post("/api/v1/runs", json=SPEC, headers=ADMIN))
        for _ in range(3):
            halted = client.post("/api/v1/emergency/halt", headers=ADMIN)
            assert halted.status_code == 202, halted.text


def test_limits_are_off_under_esper_up_unless_set() -> None:
    assert Settings(local_mode=True).read_limit == "off"
    assert Settings(local_mode=True, rate_limit="10/second").read_limit == "10/second"
    production = Settings(local_mode=False)
    assert (production.read_limit, production.write_limit) == (
        "1200/minute",
        "300/minute",
    )
    assert Settings(local_mode=False, rate_limit_writes="off").write_limit == "off"
