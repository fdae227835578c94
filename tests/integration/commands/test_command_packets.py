"""Every ledger transition of a command reaches WebSocket clients as a
`command` packet, in order: on the run's socket and on /ws/fleet."""

import asyncio
import json
import time
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
    stack: LiveStack,
) -> None:
    run_id = start_run(stack)
    ws = stack.url.replace("http://", "ws://")
    # The fleet socket is live only: it must be subscribed before the command.
    subscribed, target = asyncio.Event(), asyncio.get_running_loop().create_future()
    fleet = asyncio.create_task(_fleet_frames(ws, subscribed, target))
    await asyncio.wait_for(subscribed.wait(), timeout=20)
    paused = await asyncio.to_thread(command, stack, run_id, {"type": "pause"})
    target.set_result(paused["id"])
    # The run's socket replays its history from the start, command packets too.
    on_run = await command_frames(
        f"{ws}/ws/runs/{run_id}?after=0-0&names=command.*", paused["id"], "applied"
    )
    on_fleet = await asyncio.wait_for(fleet, timeout=20)
    for frames in (on_run, on_fleet):
        assert [f["value"] for f in frames] == ["pending", "dispatched", "applied"]
        assert {f["name"] for f in frames} == {"command.pause"}
        pending, dispatched, applied = (f["attrs"] for f in frames)
        assert pending["dispatched_at"] is None and pending["acked_at"] is None
        assert dispatched["dispatched_at"] == paused["dispatched_at"]
        assert {k: applied[k] for k in ("id", "state", "acked_at", "result")} == {
            k: paused[k] for k in ("id", "state", "acked_at", "result")
        }
    resumed = await asyncio.to_thread(command, stack, run_id, {"type": "resume"})
    assert resumed["state"] == "applied"
    stack.client.post(f"/api/v1/runs/{run_id}/cancel")
    stack.wait_for_run(run_id, {"cancelled"})


async def _fleet_frames(
    ws: str, subscribed: asyncio.Event, target: "asyncio.Future[str]"
) -> list[dict[str, Any]]:
    """The fleet's frames about the target command (known once it is issued;
    an earlier test's command may still be settling meanwhile)."""
    frames: list[dict[str, Any]] = []
    async with connect(f"{ws}/ws/fleet", compression=None) as socket:
        # The server answers pings only once the socket is subscribed.
        await socket.send("ping")
        while (
            json.loads(await asyncio.wait_for(socket.recv(), 20)).get("type") != "pong"
        ):
            pass
        subscribed.set()
        deadline = time.monotonic() + 30
        while not (
            target.done()
            and any(
                f["attrs"]["id"] == target.result() and f["value"] == "applied"
                for f in frames
            )
        ):
            assert time.monotonic() < deadline, frames
            try:  # short reads: the target may be set while nothing arrives
                frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=0.5))
            except TimeoutError:
                continue
            if frame.get("kind") == "command":
                frames.append(frame)
    return [f for f in frames if f["attrs"]["id"] == target.result()]
