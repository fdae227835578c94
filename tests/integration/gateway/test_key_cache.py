"""API keys held in memory by each gateway replica (app/keys/cache.py): a key
works on every replica at once, and a revocation stops it at once on the
replica that revoked it and within ESPER_KEY_RELOAD_S on the others."""

import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.enums import Role
from app.auth import Principal, hash_token, new_token
from app.keys.cache import KeyCache
from app.models import ApiKey
from app.settings import Settings
from tests.fixtures.gateway import GatewayProcess, running_gateway, sqlite_url

ADMIN_TOKEN = "esk_test_admin_token_for_the_replicas"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
RELOAD_S = 0.3


@pytest.fixture(scope="module")
def replicas(
    module_redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[GatewayProcess]]:
    """Two gateways on one database and one Redis."""
    database = sqlite_url(tmp_path_factory.mktemp("shared-db"))
    with ExitStack() as running:
        yield [
            running.enter_context(
                running_gateway(
                    database,
                    module_redis_url,
                    tmp_path_factory.mktemp(f"replica{i}"),
                    ESPER_AUTH="on",
                    ESPER_LOCAL_MODE="0",
                    ESPER_ADMIN_TOKEN=ADMIN_TOKEN,
                    ESPER_KEY_RELOAD_S=str(RELOAD_S),
                )
            )
            for i in range(2)
        ]


@pytest.fixture
def clients(
    replicas: list[GatewayProcess],
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Clients of replicas A and B."""
    with replicas[0].client() as a, replicas[1].client() as b:
        yield a, b


def new_key(client: httpx.Client, role: str) -> tuple[dict[str, str], dict[str, str]]:
    """A key made through `client`, and its bearer header."""
    key: dict[str, str] = client.post(
        "/api/v1/keys", json={"name": role, "role": role}, headers=ADMIN
    ).json()
    return key, {"Authorization": f"Bearer {key['token']}"}


def test_a_revoked_key_stops_working_on_every_replica(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = clients
    key, bearer = new_key(a, "operator")
    for client in (a, b):  # B never saw it made: its miss is looked up
        whoami = client.get("/api/v1/whoami", headers=bearer)
        assert whoami.status_code == 200, whoami.text
        assert whoami.json()["key_id"] == key["id"]
    assert a.delete(f"/api/v1/keys/{key['id']}", headers=ADMIN).status_code == 204
    revoked = time.monotonic()
    assert a.get("/api/v1/whoami", headers=bearer).status_code == 401
    while (status := b.get("/api/v1/whoami", headers=bearer).status_code) == 200:
        assert time.monotonic() - revoked < RELOAD_S + 2.0, "B still accepts it"
        time.sleep(0.02)
    assert status == 401
    assert b.get("/api/v1/whoami", headers=ADMIN).status_code == 200


def auth_counts(client: httpx.Client) -> dict[str, float]:
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        if family.name == "esper_auth"
        for sample in family.samples
        if sample.name == "esper_auth_total"
    }


def accepted(counts: dict[str, float]) -> float:
    return counts["held"] + counts["looked_up"]


def test_authentications_are_counted_by_outcome(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = clients
    _key, bearer = new_key(a, "viewer")
    before = auth_counts(b)
    assert set(before) == {"held", "looked_up", "rejected"}
    assert b.get("/api/v1/whoami", headers=bearer).status_code == 200  # looked up
    assert b.get("/api/v1/whoami", headers=bearer).status_code == 200  # held
    assert b.get("/api/v1/whoami").status_code == 401
    assert (
        b.get(
            "/api/v1/whoami", headers={"Authorization": "Bearer esk_not_a_token"}
        ).status_code
        == 401
    )
    after = auth_counts(b)
    # The key may already be held if B's reload ran in between: one of the
    # two was then `held` too.
    assert accepted(after) - accepted(before) == 2
    assert after["held"] - before["held"] >= 1
    assert after["rejected"] - before["rejected"] == 2


@pytest.mark.asyncio(loop_scope="function")
async def test_a_held_key_is_served_from_memory_until_the_reload(
    sessions: async_sessionmaker[AsyncSession], migrated_database: Settings
) -> None:
    settings, cache, token = migrated_database, KeyCache(), new_token()
    async with sessions() as session:
        key = ApiKey(
            name="k", role=Role.viewer.value, token_hash=hash_token(token, settings)
        )
        session.add(key)
        await session.commit()
        assert await cache.principal(session, token, settings) == Principal(
            key_id=key.id, role=Role.viewer
        )
        # Gone from the database (not through this gateway): still held ...
        await session.execute(delete(ApiKey).where(col(ApiKey.id) == key.id))
        await session.commit()
        assert await cache.principal(session, token, settings) is not None
        await cache.reload(session)  # ... until the next reload
        assert await cache.principal(session, token, settings) is None
        assert await cache.principal(session, "esk_not_a_token", settings) is None


def test_a_lookup_begun_before_a_revocation_is_not_held() -> None:
    cache, principal = KeyCache(), Principal(key_id="k1", role=Role.admin)
    generation = cache.generation
    cache.forget("k1")  # revoked while the lookup was in flight
    cache.add("digest", principal, generation)
    assert cache.get("digest") is None
    cache.add("digest", principal, cache.generation)
    assert cache.get("digest") == principal
    cache.forget("k1")
    assert cache.get("digest") is None
