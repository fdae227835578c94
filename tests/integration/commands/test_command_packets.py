"""Every ledger transition of a command reaches WebSocket clients as a
`command` packet, in order: on the run's socket and on /ws/fleet."""

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.fixtures.stack import LiveStack
from tests.integration.commands.test_commands_e2e import command, start_run

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def command_frames(url: str, command_id: str, until: str) -> list[dict[str, Any]]:
    """The `command` frames about one command, up to the one in state `until`."""
    frames: list[dict[str, Any]] = []
    async with connect(url, compression=None) as ws:
        while not frames or frames[-1]["value"] != until:
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
            if frame.get("kind") == "command" and frame["attrs"]["id"] == command_id:
                frames.append(frame)
    return frames


async def test_pending_dispatched_applied_reach_the_run_and_the_fleet(
        stack: LiveStack) -> None:
    run_id = start_run(stack)
    ws = stack.url.replace("http://", "ws://")
    # The fleet socket is live only: connect it before the command is issued.
    fleet = asyncio.create_task(_fleet_frames(ws, stack))
    await asyncio.sleep(0.5)
    paused = await asyncio.to_thread(command, stack, run_id, {"type": "pause"})
    # The run's socket replays its history from the start, command packets too.
    on_run = await command_frames(f"{ws}/ws/runs/{run_id}?after=0-0&names=command.*",
                                  paused["id"], "applied")
    on_fleet = await asyncio.wait_for(fleet, timeout=20)
    for frames in (on_run, on_fleet):
        assert [f["value"] for f in frames] == ["pending", "dispatched", "applied"]
        assert {f["name"] for f in frames} == {"command.pause"}
        pending, dispatched, applied = (f["attrs"] for f in frames)
        assert pending["dispatched_at"] is None and pending["acked_at"] is None
        assert dispatched["dispatched_at"] == paused["dispatched_at"]
        assert {k: applied[k] for k in ("id", "state", "acked_at", "result")} == {
            k: paused[k] for k in ("id", "state", "acked_at", "result")}
    resumed = await asyncio.to_thread(command, stack, run_id, {"type": "resume"})
    assert resumed["state"] == "applied"
    stack.client.post(f"/api/v1/runs/{run_id}/cancel")
    stack.wait_for_run(run_id, {"cancelled"})


async def _fleet_frames(ws: str, stack: LiveStack) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    async with connect(f"{ws}/ws/fleet", compression=None) as socket:
        while not frames or frames[-1]["value"] != "applied":
            frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=20))
            if frame.get("kind") == "command" and frame["name"] == "command.pause":
                frames.append(frame)
    return frames
