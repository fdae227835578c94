"""The fan-out hub against a real gateway, Redis and a synthetic worker."""

import asyncio
import json

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from api_schemas.telemetry import cursor_key
from tests.fixtures.gateway import GatewayProcess
from tests.integration.telemetry.conftest import QUEUE_FRAMES, NewRun
from tests.integration.telemetry.helpers import (
    StalledClient,
    eventually,
    finish,
    metric_value,
    produce,
    receive_all,
)

pytestmark = pytest.mark.asyncio(loop_scope="function")


def ws_url(gateway: GatewayProcess, path: str) -> str:
    return gateway.url.replace("http://", "ws://") + path


async def test_many_clients_get_every_packet_in_order_then_a_clean_close(
    gateway: GatewayProcess, aredis: Redis, new_run: NewRun
) -> None:
    run_id = await new_run()
    url = ws_url(gateway, f"/ws/runs/{run_id}")
    clients = [asyncio.create_task(receive_all(url)) for _ in range(12)]
    await eventually(lambda: _clients_at_least(gateway, 12))
    # Twelve clients, one Redis reader for the run in this gateway.
    assert await metric_value(gateway.url, "esper_ws_feeds") == 1
    cursors = await produce(aredis, run_id, range(3000))
    final = await finish(aredis, run_id)
    for got in await asyncio.gather(*clients):
        assert got.steps == list(range(3000))
        assert got.cursors == [*cursors, final]
        assert got.frames[-1]["kind"] == "state"
        assert got.frames[-1]["value"] == "completed"
        assert (got.code, got.reason) == (1000, "run finished")
    await eventually(lambda: _feeds_are(gateway, 0))


async def test_stalled_client_is_closed_4408_with_its_cursor_and_resumes(
    gateway: GatewayProcess, aredis: Redis, new_run: NewRun
) -> None:
    run_id = await new_run()
    url = ws_url(gateway, f"/ws/runs/{run_id}")
    closes_before = await metric_value(gateway.url, "esper_ws_slow_client_closes_total")
    stalled = StalledClient(gateway.port, f"/ws/runs/{run_id}")
    await stalled.connect()
    others = [asyncio.create_task(receive_all(url)) for _ in range(3)]
    await eventually(lambda: _clients_at_least(gateway, 4))
    count = 12 * QUEUE_FRAMES  # ~6 MB: more than the kernel buffers absorb
    cursors = await produce(
        aredis, run_id, range(count), pad=1000, batch=128, pause_s=0.02
    )
    final = await finish(aredis, run_id)
    for got in await asyncio.gather(*others):  # the others kept up
        assert got.cursors == [*cursors, final]
    await eventually(lambda: _slow_closes_above(gateway, closes_before))
    stuck = await stalled.read_all()
    frames, code, reason = stuck.frames, stuck.code, stuck.reason
    assert code == 4408
    assert frames, "the stalled client got some frames before it stalled"
    assert reason == frames[-1]["cursor"]
    assert [f["cursor"] for f in frames] == cursors[: len(frames)]
    resumed = await receive_all(url + f"?after={reason}")
    assert resumed.cursors == [*cursors[len(frames) :], final]
    assert resumed.code == 1000


async def test_names_filter_and_ping_pong(
    gateway: GatewayProcess, aredis: Redis, new_run: NewRun
) -> None:
    run_id = await new_run()
    url = ws_url(gateway, f"/ws/runs/{run_id}?names=tolaria.training.*,kasmina.*")
    async with connect(url, compression=None) as ws:
        await eventually(lambda: _clients_at_least(gateway, 1))
        await ws.send("ping")
        assert json.loads(await ws.recv()) == {"type": "pong", "cursor": "0-0"}
        await produce(aredis, run_id, range(400))
        await finish(aredis, run_id)
        names = []
        async for message in ws:
            names.append(json.loads(message)["name"])
    wanted = {
        "tolaria.training.loss",
        "tolaria.training.accuracy",
        "kasmina.seed.alpha",
    }
    assert names[:-1] and set(names[:-1]) == wanted
    assert len(names) - 1 == sum(1 for s in range(400) if s % 4 != 2)
    assert names[-1] == "run.state"  # the final state passes any filter


async def test_unknown_run_is_closed_4404(gateway: GatewayProcess) -> None:
    got = await receive_all(ws_url(gateway, "/ws/runs/no-such-run"))
    assert (got.frames, got.code) == ([], 4404)


async def test_fleet_stream_is_live(gateway: GatewayProcess, aredis: Redis) -> None:
    async with connect(ws_url(gateway, "/ws/fleet"), compression=None) as ws:
        await eventually(lambda: _clients_at_least(gateway, 1, "fleet"))
        await aredis.xadd(
            "esper:fleet",
            {
                "data": json.dumps(
                    {"kind": "event", "name": "fleet.worker", "value": "idle"}
                )
            },
        )
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert frame["name"] == "fleet.worker"
    assert cursor_key(frame["cursor"]) > (0, 0)


async def _clients_at_least(
    gateway: GatewayProcess, n: int, stream: str = "runs"
) -> bool:
    return (
        await metric_value(gateway.url, f'esper_ws_clients{{stream="{stream}"}}') >= n
    )


async def _feeds_are(gateway: GatewayProcess, n: int) -> bool:
    return await metric_value(gateway.url, "esper_ws_feeds") == n


async def _slow_closes_above(gateway: GatewayProcess, before: float) -> bool:
    value = await metric_value(gateway.url, "esper_ws_slow_client_closes_total")
    return value > before
