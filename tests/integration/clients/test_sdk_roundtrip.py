"""Both generated SDKs against a live stack: submit a run, wait for it, send a
command with `wait`, read a telemetry page, list its artifacts. The frames the
live WebSocket sends validate against the AsyncAPI document's schemas."""

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import jsonschema
import websockets
from esper_client import AuthenticatedClient
from esper_client.api.artifacts import list_run_artifacts
from esper_client.api.commands import create_command
from esper_client.api.runs import create_run, get_run
from esper_client.api.telemetry import list_run_telemetry
from esper_client.models import (
    CommandRead,
    ErrorResponse,
    PacketKind,
    Pause,
    RunCreate,
    RunRead,
    RunState,
    Stop,
    TelemetryPage,
)

from app.contract import asyncapi_document
from tests.fixtures.stack import LiveStack
from tests.integration.clients.conftest import TYPESCRIPT

LONG_RUN: dict[str, Any] = {
    "task": "digits",
    "epochs": 2000,
    "batch_size": 32,
    "device": "cpu",
    "morphogenesis": {"enabled": False},
}


def _sdk(stack: LiveStack) -> AuthenticatedClient:
    # Auth is off on this stack: the token is sent and not checked.
    return AuthenticatedClient(base_url=stack.url, token="unused", timeout=None)


def _wait_state(
    client: AuthenticatedClient, run_id: str, states: set[RunState]
) -> RunRead:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = get_run.sync(run_id, client=client)
        assert isinstance(run, RunRead), run
        if run.state in states:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never reached {states}")


def _command_acked(
    client: AuthenticatedClient, run_id: str, body: Pause | Stop
) -> CommandRead:
    response = create_command.sync_detailed(run_id, client=client, body=body, wait=20)
    assert response.status_code == 200, response.content  # acked within the wait
    assert isinstance(response.parsed, CommandRead)
    return response.parsed


def test_python_sdk_round_trip(stack: LiveStack) -> None:
    client = _sdk(stack)
    created = create_run.sync(client=client, body=RunCreate.from_dict(LONG_RUN))
    assert isinstance(created, RunRead) and created.state == RunState.QUEUED
    _wait_state(client, created.id, {RunState.RUNNING})
    assert (
        _command_acked(
            client, created.id, Pause.from_dict({"type": "pause"})
        ).state.value
        == "applied"
    )
    _wait_state(client, created.id, {RunState.PAUSED})
    assert (
        _command_acked(client, created.id, Stop.from_dict({"type": "stop"})).state.value
        == "applied"
    )
    ended = _wait_state(client, created.id, {RunState.CANCELLED})
    assert ended.finished_at is not None
    page = _history(client, created.id)
    assert {p.kind for p in page.items} == {PacketKind.STATE}
    assert "cancelled" in {p.value for p in page.items}
    artifacts = list_run_artifacts.sync(created.id, client=client)
    assert isinstance(artifacts, list)
    assert {"model.safetensors", "model.json"} <= {a.name for a in artifacts}
    missing = get_run.sync("00000000-0000-0000-0000-000000000000", client=client)
    assert isinstance(missing, ErrorResponse)
    assert missing.error.code.value == "run_not_found"
    _frames_match_the_asyncapi_document(stack, created.id)


def _history(client: AuthenticatedClient, run_id: str) -> TelemetryPage:
    """The run's state packets, once the persister has written the final one
    (history trails the live stream by a moment)."""
    deadline = time.monotonic() + 30
    while True:
        page = list_run_telemetry.sync(
            run_id, client=client, kind=PacketKind.STATE, limit=500
        )
        assert isinstance(page, TelemetryPage)
        if "cancelled" in {p.value for p in page.items}:
            return page
        assert time.monotonic() < deadline, [p.value for p in page.items]
        time.sleep(0.2)


def _frames_match_the_asyncapi_document(stack: LiveStack, run_id: str) -> None:
    """The ended run's socket replays its history and closes 1000: every frame
    is a TelemetryPacket as the document describes it, with a cursor."""
    frames, close_code = asyncio.run(_read_all(stack.url, run_id))
    document = asyncapi_document()
    packet = _validator(document, "TelemetryPacket")
    for frame in frames:
        assert list(packet.iter_errors(frame)) == [], frame
        assert isinstance(frame["cursor"], str)
    assert frames[-1]["kind"] == "state" and frames[-1]["value"] == "cancelled"
    assert str(close_code) in document["channels"]["runTelemetry"]["x-close-codes"]


def _validator(document: dict[str, Any], model: str) -> jsonschema.Draft202012Validator:
    schema = {
        "$ref": f"#/components/schemas/{model}",
        "components": document["components"],
    }
    return jsonschema.Draft202012Validator(schema)


async def _read_all(url: str, run_id: str) -> tuple[list[dict[str, Any]], int]:
    frames: list[dict[str, Any]] = []
    ws_url = url.replace("http", "ws", 1) + f"/ws/runs/{run_id}"
    async with websockets.connect(ws_url) as socket:
        async for message in socket:
            frames.append(json.loads(message))
        code = socket.close_code
    assert code is not None
    return frames, code


def test_typescript_sdk_round_trip(stack: LiveStack, typescript_build: Path) -> None:
    done = subprocess.run(
        ["node", str(typescript_build / "test" / "roundtrip.js")],
        cwd=TYPESCRIPT,
        env={**os.environ, "ESPER_URL": stack.url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["paused"] == "applied" and summary["stopped"] == "applied"
    assert summary["state"] == "cancelled"
    assert summary["telemetry"] > 0 and summary["telemetry_kinds"] == ["state"]
    assert summary["final_state_packet"] is True
    assert {"model.safetensors", "model.json"} <= set(summary["artifacts"])
    assert summary["missing_status"] == 404
    assert summary["missing_code"] == "run_not_found"
