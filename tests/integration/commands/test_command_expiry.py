"""A command nobody acks expires after `command_expire_s` (`not_acked`), one
on a run that ended expires with `run_ended`, and nothing else expires."""

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api_schemas.bus import DATA_FIELD, FLEET_STREAM, range_reply
from app.models import Command, Run
from app.models._types import utcnow
from app.workers.reaper import Reaper
from tests.fixtures.gateway import GatewayProcess, running_gateway, sqlite_url

EXPIRE_S = 1.5


@pytest.fixture
def gateway(
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("expiry")
    with running_gateway(
        sqlite_url(tmp),
        redis_url,
        tmp,
        ESPER_COMMAND_EXPIRE_S=str(EXPIRE_S),
        ESPER_REAPER_INTERVAL_S="0.2",
    ) as gateway:
        yield gateway


def test_a_command_to_a_run_no_worker_takes_expires(gateway: GatewayProcess) -> None:
    with gateway.client() as client:
        run = client.post("/api/v1/runs", json={"task": "digits", "epochs": 1}).json()
        issued = client.post(
            f"/api/v1/runs/{run['id']}/commands", json={"type": "pause"}
        ).json()
        path = f"/api/v1/commands/{issued['id']}"
        time.sleep(EXPIRE_S / 2)
        assert client.get(path).json()["state"] in ("pending", "dispatched")
        deadline = time.monotonic() + EXPIRE_S + 5
        while (command := client.get(path).json())["state"] != "expired":
            assert time.monotonic() < deadline, command
            time.sleep(0.1)
    assert command["reason"] == "not_acked" and command["acked_at"]


@pytest.mark.asyncio(loop_scope="function")
async def test_the_reaper_expires_only_commands_that_cannot_be_acked(
    redis_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    bus = Redis.from_url(redis_url)
    now = utcnow()
    ended = Run(spec={}, state="cancelled", finished_at=now - timedelta(seconds=30))
    live = Run(spec={}, state="running")
    commands = {
        "on_ended_run": Command(run_id=ended.id, type="pause", issued_at=now),
        "old_on_live_run": Command(
            run_id=live.id,
            type="pause",
            state="dispatched",
            issued_at=now - timedelta(seconds=120),
        ),
        "fresh_on_live_run": Command(run_id=live.id, type="pause", issued_at=now),
        "old_but_applied": Command(
            run_id=live.id,
            type="pause",
            state="applied",
            issued_at=now - timedelta(seconds=120),
        ),
    }
    try:
        async with sessions() as session:
            session.add_all([ended, live, *commands.values()])
            await session.commit()
        await Reaper(sessions, bus, ttl_s=8, command_expire_s=60).sweep()
        async with sessions() as session:
            found = {
                name: await session.get(Command, c.id) for name, c in commands.items()
            }
        assert {name: (c.state, c.reason) for name, c in found.items() if c} == {
            "on_ended_run": ("expired", "run_ended"),
            "old_on_live_run": ("expired", "not_acked"),
            "fresh_on_live_run": ("pending", None),
            "old_but_applied": ("applied", None),
        }
        fleet = range_reply(await bus.xrange(FLEET_STREAM), bytes)
        packets = [json.loads(f[DATA_FIELD.encode()]) for _, f in fleet]
        assert sorted(
            p["attrs"]["reason"] for p in packets if p["kind"] == "command"
        ) == ["not_acked", "run_ended"]
    finally:
        await bus.aclose()
