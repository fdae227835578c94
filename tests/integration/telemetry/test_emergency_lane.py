"""The emergency lane end to end: the worker's real publisher on real Redis, a
real gateway (relay, hub, persister), WebSocket clients on /ws/fleet and the
run's /ws/runs. A flood of bulk packets is queued in the publisher, then a few
critical ones: they reach /ws/fleet, and the run's socket, ahead of bulk
packets emitted before them; the bucket's surplus is demoted, not lost; the
run's cursors stay one gapless order that a resume replays exactly."""

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api_schemas.bus import range_reply, telemetry_stream
from tests.fixtures.gateway import GatewayProcess, running_gateway
from tests.integration.telemetry.conftest import NewRun
from tests.integration.telemetry.helpers import eventually, metric_value, receive_all
from workers import metrics as worker_metrics
from workers.telemetry import TelemetryPublisher

pytestmark = pytest.mark.asyncio(loop_scope="function")

FLOOD = 20_000  # bulk packets queued ahead of the critical ones
CRITICAL = 5
BUCKET = 3  # ESPER_EMERGENCY_MAX_PER_MIN of this publisher: 2 are demoted


@pytest.fixture(scope="module")
def gateway(
    telemetry_db_url: str,
    telemetry_redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayProcess]:
    """This module's own gateway: queues deep enough for the whole flood (a
    client of the default 4096 that falls behind is closed 4408, not tested
    here), so its relay counter starts at 0."""
    with running_gateway(
        telemetry_db_url,
        telemetry_redis_url,
        tmp_path_factory.mktemp("gateway"),
        ESPER_WS_QUEUE_FRAMES=str(4 * FLOOD),
        ESPER_TELEMETRY_PERSIST_INTERVAL_S="0.05",
    ) as gateway:
        yield gateway


class Watcher:
    """A socket's frames, each with the monotonic time it arrived."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self.connected = asyncio.Event()
        self.code: int | None = None

    async def run(self, until: Any) -> None:
        async with connect(self.url, compression=None) as ws:
            self.connected.set()
            try:
                while not until(self.frames):
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    self.frames.append((time.monotonic(), frame))
            except ConnectionClosed as exc:
                self.code = exc.rcvd.code if exc.rcvd else None

    def first(self, predicate: Any) -> tuple[int, float]:
        for index, (at, frame) in enumerate(self.frames):
            if predicate(frame):
                return index, at
        raise AssertionError("no such frame")


def bulk(step: int) -> dict[str, Any]:
    return {"kind": "metric", "name": "tolaria.training.loss", "value": 0.5,
            "step": step, "epoch": 0, "level": "info", "attrs": {}}  # fmt: skip


def critical(index: int) -> dict[str, Any]:
    return {"kind": "event", "name": f"kasmina.isolation.violation.{index}",
            "value": None, "step": FLOOD, "epoch": 0, "level": "critical",
            "attrs": {"index": index}}  # fmt: skip


FINAL = {"kind": "state", "name": "run.state", "value": "halted", "step": FLOOD,
         "epoch": 0, "level": "info", "attrs": {}}  # fmt: skip


def ws(gateway: GatewayProcess, path: str) -> str:
    return gateway.url.replace("http://", "ws://") + path


async def test_critical_packets_overtake_a_bulk_flood_to_fleet_and_run(
    gateway: GatewayProcess,
    telemetry_redis_url: str,
    aredis: Redis,
    new_run: NewRun,
) -> None:
    run_id = await new_run()

    def mine(frame: dict[str, Any]) -> bool:
        return frame.get("run_id") == run_id and frame.get("level") == "critical"

    def three(frames: list[tuple[float, dict[str, Any]]]) -> bool:
        return sum(mine(f) for _, f in frames) >= BUCKET

    fleet = Watcher(ws(gateway, "/ws/fleet"))
    run = Watcher(ws(gateway, f"/ws/runs/{run_id}"))
    tasks = [
        asyncio.create_task(
            fleet.run(lambda fs: sum(mine(f) for _, f in fs) >= BUCKET)
        ),
        asyncio.create_task(run.run(lambda _fs: False)),  # until the final close
    ]
    await asyncio.gather(fleet.connected.wait(), run.connected.wait())
    await asyncio.sleep(0.3)  # both subscribed before the first packet
    demoted_before = _sample(worker_metrics.EMERGENCY_PACKETS, "demoted")
    client = redis.Redis.from_url(telemetry_redis_url, decode_responses=True)
    publisher = TelemetryPublisher(
        client, run_id, maxlen=100_000, batch=100, emergency_max_per_min=BUCKET
    )
    publisher.start()
    for step in range(FLOOD):
        publisher.emit(bulk(step))
    for index in range(CRITICAL):
        publisher.emit(critical(index))
    await asyncio.sleep(1.1)  # the next emit then carries the lane's counters
    publisher.emit(bulk(FLOOD + 1))
    publisher.emit(FINAL)
    assert await asyncio.to_thread(publisher.flush, 30)
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    publisher.close()
    client.close()

    # /ws/fleet: the three the bucket admitted, not the two it demoted...
    on_fleet = [f for _, f in fleet.frames if mine(f)]
    assert [f["attrs"]["index"] for f in on_fleet] == [0, 1, 2]
    # ...each there before the run's socket got the bulk packets queued ahead
    # of it (the last bulk packet emitted before them, and most of the flood).
    _, fleet_at = fleet.first(mine)
    _, last_bulk_at = run.first(lambda f: f.get("step") == FLOOD - 1)
    assert fleet_at < last_bulk_at
    frames = [f for _, f in run.frames]
    at = [i for i, f in enumerate(frames) if f.get("level") == "critical"]
    assert len(at) == CRITICAL  # all five on the run's stream: none lost
    overtaken = sum(1 for f in frames[at[BUCKET - 1] :] if f.get("step", 0) < FLOOD)
    assert overtaken > FLOOD // 2, overtaken  # the lane ones jumped the queue
    assert [frames[i]["attrs"]["index"] for i in at[BUCKET:]] == [3, 4]
    # Bulk order untouched, every packet once, the final state last (1000).
    steps = [f["step"] for f in frames if f["name"] == "tolaria.training.loss"]
    assert steps == [*range(FLOOD), FLOOD + 1]
    assert frames[-1]["name"] == "run.state" and run.code == 1000
    # Counters: the gateway's relay, the worker's series and its packets.
    assert await metric_value(gateway.url, "esper_emergency_relayed_total") == BUCKET
    demoted = _sample(worker_metrics.EMERGENCY_PACKETS, "demoted") - demoted_before
    assert (publisher.lane.sent, publisher.lane.demoted, demoted) == (3, 2, 2)
    reports = {f["name"]: f["value"] for f in frames if f["name"].startswith("oona.")}
    assert reports["oona.emergency.demoted_total"] == 2.0
    assert reports["oona.emergency.lane_total"] == 3.0

    # One order for live, replay and history: the cursors are the stream's,
    # and a resume from the middle replays exactly the rest.
    cursors = [f["cursor"] for f in frames]
    entries = range_reply(await aredis.xrange(telemetry_stream(run_id)), bytes)
    assert cursors == [entry_id.decode() for entry_id, _ in entries]
    middle = cursors[at[0]]  # a client that saw the first lane packet
    resumed = await receive_all(ws(gateway, f"/ws/runs/{run_id}?after={middle}"))
    assert resumed.cursors == cursors[at[0] + 1 :]
    critical_cursors = [cursors[i] for i in at]
    await eventually(lambda: _history_holds(gateway, run_id, critical_cursors))


def _sample(counter: Any, outcome: str) -> float:
    return float(counter.labels(outcome)._value.get())


async def _history_holds(
    gateway: GatewayProcess, run_id: str, cursors: list[str]
) -> bool:
    """The persisted critical rows, at the cursors the socket delivered them at."""
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        response = await client.get(
            f"/api/v1/runs/{run_id}/telemetry",
            params={"names": "kasmina.isolation.*", "limit": 10},
        )
    return [item["cursor"] for item in response.json()["items"]] == cursors
