"""Every command type through the API to a real worker, acked, changing the run."""

import gzip
import json
import time
from typing import Any

import httpx

from tests.fixtures.stack import LiveStack

LONG_RUN = {
    "task": "digits",
    "epochs": 2000,
    "batch_size": 32,
    "device": "cpu",
    "morphogenesis": {"enabled": False},
    "checkpoint_every": 20,
}


def start_run(stack: LiveStack, **overrides: Any) -> str:
    response = stack.client.post("/api/v1/runs", json={**LONG_RUN, **overrides})
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    stack.wait_for_run(run_id, {"running"})
    return run_id


def command(
    stack: LiveStack, run_id: str, body: dict[str, Any], wait: float = 10
) -> dict[str, Any]:
    response = stack.client.post(
        f"/api/v1/runs/{run_id}/commands",
        params={"wait": wait},
        json=body,
        timeout=wait + 10,
    )
    assert response.status_code == 200, response.text  # acked within the wait
    result: dict[str, Any] = response.json()
    # The answer is the full ledger row, dispatch included, even when the ack
    # beat the relay's own record of the dispatch.
    assert result["dispatched_at"] and result["acked_at"], result
    assert result["issued_at"] <= result["dispatched_at"] <= result["acked_at"]
    stored = stack.client.get(f"/api/v1/commands/{result['id']}").json()
    assert {k: stored[k] for k in ("state", "acked_at", "dispatched_at")} == {
        k: result[k] for k in ("state", "acked_at", "dispatched_at")
    }
    return result


def test_pause_and_resume_change_the_run_state(stack: LiveStack) -> None:
    run_id = start_run(stack)
    paused = command(stack, run_id, {"type": "pause"})
    assert paused["state"] == "applied" and paused["acked_at"]
    run = stack.wait_for_run(run_id, {"paused"})
    step = run["step"]
    stack.wait_for_run(run_id, {"paused"})
    assert stack.client.get(f"/api/v1/runs/{run_id}").json()["step"] == step
    assert command(stack, run_id, {"type": "resume"})["state"] == "applied"
    stack.wait_for_run(run_id, {"running"})
    stack.client.post(f"/api/v1/runs/{run_id}/cancel")
    stack.wait_for_run(run_id, {"cancelled"})


def test_stop_via_cancel_ends_cancelled_and_acks(stack: LiveStack) -> None:
    run_id = start_run(stack)
    response = stack.client.post(f"/api/v1/runs/{run_id}/cancel")
    assert response.status_code == 202
    run = stack.wait_for_run(run_id, {"cancelled"})
    assert run["finished_at"]
    ledger = stack.client.get(f"/api/v1/commands/{response.json()['id']}").json()
    assert ledger["state"] == "applied"
    again = stack.client.post(f"/api/v1/runs/{run_id}/commands", json={"type": "pause"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "run_terminal"
    ledger = stack.client.get(f"/api/v1/runs/{run_id}/commands").json()["items"]
    assert [c["type"] for c in ledger] == ["stop"]  # the refused pause left no row


def test_seed_enable_then_disable(stack: LiveStack) -> None:
    run_id = start_run(stack)
    # Paused, the run still applies commands but the seed cannot pass its gates
    # (on digits a seed may fossilise, and so become uncullable, within 0.5 s).
    assert command(stack, run_id, {"type": "pause"})["state"] == "applied"
    enabled = command(
        stack,
        run_id,
        {"type": "seed_enable", "slot": "block0", "blueprint": "low_rank"},
    )
    assert enabled["state"] == "applied", enabled
    seed_id = enabled["result"]["seed_id"]
    disabled = command(stack, run_id, {"type": "seed_disable", "seed_id": seed_id})
    assert disabled["state"] == "applied", disabled["reason"]
    unknown = command(stack, run_id, {"type": "seed_disable", "seed_id": "nope"})
    assert unknown["state"] == "rejected" and unknown["reason"]
    # The lineage follows from the run's telemetry, a moment behind the acks.
    for _ in range(100):
        seeds = stack.client.get(f"/api/v1/runs/{run_id}/seeds").json()
        if [s["outcome"] for s in seeds] == ["culled"]:
            break
        time.sleep(0.1)
    assert [(s["seed_id"], s["stage"], s["outcome"]) for s in seeds] == [
        (seed_id, "CULLED", "culled")
    ]
    stack.client.post(f"/api/v1/runs/{run_id}/cancel")
    stack.wait_for_run(run_id, {"cancelled"})


def test_rollback_and_registry_reset_are_applied(stack: LiveStack) -> None:
    run_id = start_run(stack)
    # A rollback needs a checkpoint (checkpoint_every=20 steps).
    for _ in range(100):
        if stack.client.get(f"/api/v1/runs/{run_id}/checkpoints").json():
            break
        stack.wait_for_run(run_id, {"running"}, timeout=5)
    rolled = command(stack, run_id, {"type": "rollback"})
    assert rolled["state"] == "applied", rolled
    reset = command(stack, run_id, {"type": "registry_reset"})
    assert reset["state"] == "applied", reset
    stack.client.post(f"/api/v1/runs/{run_id}/cancel")
    stack.wait_for_run(run_id, {"cancelled"})


def test_emergency_halt_stops_within_one_step(stack: LiveStack) -> None:
    run_id = start_run(stack)
    halted = command(stack, run_id, {"type": "emergency_halt", "reason": "test"})
    assert halted["state"] == "applied", halted
    run = stack.wait_for_run(run_id, {"halted"})
    assert run["halt_reason"] == "test"
    assert run["result"]["steps_after_halt"] <= 1
    assert run["result"].get("forced") is not True
    metrics = stack.client.get("/metrics").text
    count = [
        line
        for line in metrics.splitlines()
        if line.startswith("esper_halt_seconds_count")
    ]
    assert count and float(count[0].split()[-1]) >= 1  # halt latency observed


def test_fleet_halt_and_registry_broadcast(stack: LiveStack) -> None:
    run_id = start_run(stack)
    response = stack.client.post("/api/v1/emergency/halt")
    assert response.status_code == 202
    ids = {c["run_id"] for c in response.json()["commands"]}
    assert run_id in ids
    stack.wait_for_run(run_id, {"halted"})
    reset = stack.client.post("/api/v1/registry/reset")
    assert reset.status_code == 202 and reset.json()["run_id"] is None
    for _ in range(50):
        current = stack.client.get(f"/api/v1/commands/{reset.json()['id']}").json()
        if current["state"] == "applied":
            break
        httpx.get(stack.url + "/healthz")
    assert current["state"] == "applied" and current["result"]["acks"]


def listed_artifact(stack: LiveStack, run_id: str, name: str) -> dict[str, Any]:
    """The artifact `name` once the run's listing has it (uploads are async)."""
    for _ in range(150):
        for artifact in stack.client.get(f"/api/v1/runs/{run_id}/artifacts").json():
            if artifact["name"] == name:
                found: dict[str, Any] = artifact
                return found
        time.sleep(0.2)
    raise AssertionError(f"{name} never listed for run {run_id}\n{stack.logs()}")


def test_profile_trace_downloads_as_a_chrome_trace(stack: LiveStack) -> None:
    run_id = start_run(stack)
    profiled = command(stack, run_id, {"type": "profile", "steps": 3})
    assert profiled["state"] == "applied", profiled
    result = profiled["result"]
    name, first = result["artifact"], result["from_step"]
    assert result["steps"] == 3 and result["to_step"] == first + 2
    listed = listed_artifact(stack, run_id, name)
    assert listed["kind"] == "report" and listed["step"] == first + 2
    response = stack.client.get(f"/api/v1/runs/{run_id}/artifacts/{name}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/gzip"
    assert len(response.content) == listed["bytes"]
    events = json.loads(gzip.decompress(response.content))["traceEvents"]
    marks = [e["name"] for e in events if e.get("name", "").startswith("Profiler")]
    assert marks == [f"ProfilerStep#{step}" for step in range(first, first + 3)]
    assert any(e.get("cat") == "cpu_op" for e in events)
    for _ in range(100):  # the event reaches the history a moment later
        exported = stack.client.get(
            f"/api/v1/runs/{run_id}/telemetry",
            params={"names": "tolaria.profiler.exported"},
        ).json()["items"]
        if exported:
            break
        time.sleep(0.1)
    assert [p["attrs"]["artifact"] for p in exported] == [name]
    assert exported[0]["attrs"]["bytes"] == listed["bytes"]
    stack.client.post(f"/api/v1/runs/{run_id}/cancel")
    stack.wait_for_run(run_id, {"cancelled"})
