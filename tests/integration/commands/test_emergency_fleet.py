"""A real worker's critical packet takes the emergency lane to /ws/fleet: an
emergency halt's `tolaria.emergency.halt` (level critical) reaches the fleet's
socket with its run id, and stays in the run's own order (history)."""

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.fixtures.stack import LiveStack
from tests.integration.commands.test_commands_e2e import command, start_run

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def test_a_halt_reaches_the_fleet_on_the_lane(stack: LiveStack) -> None:
    run_id = start_run(stack)
    ws = stack.url.replace("http://", "ws://")
    async with connect(f"{ws}/ws/fleet", compression=None) as fleet:
        await fleet.send("ping")  # answered once the socket is subscribed
        while (
            json.loads(await asyncio.wait_for(fleet.recv(), 20)).get("type") != "pong"
        ):
            pass
        halted = await asyncio.to_thread(
            command, stack, run_id, {"type": "emergency_halt", "reason": "lane"}
        )
        assert halted["state"] == "applied", halted
        frame = await _first(fleet, lambda f: f.get("name") == "tolaria.emergency.halt")
    assert frame["run_id"] == run_id and frame["level"] == "critical"
    assert frame["attrs"]["reason"] == "lane"
    stack.wait_for_run(run_id, {"halted"})
    stack.wait_for_history(run_id)  # the history below trails the state
    rows = stack.client.get(
        f"/api/v1/runs/{run_id}/telemetry",
        params={"names": "tolaria.emergency.halt,run.state", "limit": 100},
    ).json()["items"]
    names = [row["name"] for row in rows]
    # In the run's history once, before the final state that ends its stream.
    assert names.count("tolaria.emergency.halt") == 1
    assert names[-1] == "run.state" and rows[-1]["value"] == "halted"
    metrics = stack.client.get("/metrics").text
    relayed = [
        line
        for line in metrics.splitlines()
        if line.startswith("esper_emergency_relayed_total ")
    ]
    assert relayed and float(relayed[0].split()[-1]) >= 1


async def _first(socket: Any, match: Any) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 20))
        if match(frame):
            return frame
