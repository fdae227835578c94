"""Reading and writing the bus the way the gateway would, for worker tests."""

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from api_schemas.bus import (
    DATA_FIELD,
    EVENTS_STREAM,
    RUNS_STREAM,
    RunAssignment,
    SignedCommand,
    command_stream,
    range_reply,
    telemetry_stream,
)
from api_schemas.enums import TERMINAL_RUN_STATE_VALUES
from api_schemas.runs import RunCreate
from api_schemas.signing import sign
from tests.fixtures.gateway import TEST_SECRET

Client = redis.Redis  # decode_responses=True: fields are str
TINY: dict[str, Any] = {
    "task": "digits",
    "epochs": 1,
    "batch_size": 64,
    "device": "cpu",
    "model": {"width": 16, "depth": 1},
    "morphogenesis": {"enabled": False},
}
# Long enough that it ends only when a test stops it.
ENDLESS: dict[str, Any] = {**TINY, "epochs": 100000}


def assign(client: Client, spec: dict[str, Any], run_id: str | None = None) -> str:
    run_id = run_id or str(uuid.uuid4())
    envelope = RunAssignment(run_id=run_id, spec=RunCreate.model_validate(spec))
    client.xadd(RUNS_STREAM, {DATA_FIELD: envelope.model_dump_json()})
    return run_id


def events(client: Client) -> list[dict[str, Any]]:
    entries = range_reply(client.xrange(EVENTS_STREAM), str)
    return [json.loads(f[DATA_FIELD]) for _, f in entries]


def run_events(client: Client, run_id: str, kind: str) -> list[dict[str, Any]]:
    return [
        e for e in events(client) if e.get("run_id") == run_id and e["type"] == kind
    ]


def states(client: Client, run_id: str) -> list[str]:
    return [e["state"] for e in run_events(client, run_id, "run_state")]


def wait_for(
    client: Client,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 30.0,
    what: str = "event",
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in events(client):
            if predicate(event):
                return event
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout} s; events: {events(client)}")


def wait_state(
    client: Client, run_id: str, state: str, timeout: float = 30.0
) -> dict[str, Any]:
    """The run's `state` event; fails at once if it ends in another state."""
    event = wait_for(
        client,
        lambda e: (
            e["type"] == "run_state"
            and e["run_id"] == run_id
            and (e["state"] == state or e["state"] in TERMINAL_RUN_STATE_VALUES)
        ),
        timeout,
        f"run_state {state}",
    )
    assert event["state"] == state, f"run ended {event['state']}: {event}"
    return event


def wait_ack(client: Client, command_id: str, timeout: float = 15.0) -> dict[str, Any]:
    return wait_for(
        client,
        lambda e: e["type"] == "command_ack" and e["command_id"] == command_id,
        timeout,
        f"ack {command_id}",
    )


def telemetry(client: Client, run_id: str) -> list[dict[str, Any]]:
    entries = range_reply(client.xrange(telemetry_stream(run_id)), str)
    return [json.loads(f[DATA_FIELD]) for _, f in entries]


def signed(
    run_id: str | None,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    key_id: str = "k1",
    secret: str = TEST_SECRET,
    issued_at: float | None = None,
) -> SignedCommand:
    command = SignedCommand(
        id=str(uuid.uuid4()),
        run_id=run_id,
        type=kind,
        params=params or {},
        nonce=uuid.uuid4().hex,
        issued_at=time.time() if issued_at is None else issued_at,
        key_id=key_id,
    )
    return sign(command, {key_id: secret})


def send(client: Client, command: SignedCommand, stream: str | None = None) -> None:
    target = stream or command_stream(command.run_id or "")
    client.xadd(target, {DATA_FIELD: command.model_dump_json()})


def eventually(
    check: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not hold within {timeout} s")
