"""Seed lineage end to end: a real worker trains a run in which the operator
plants two seeds, culls one and lets the other fossilise; the gateway, which
prunes its telemetry history within seconds, still answers every seed's
lineage during the run, after it ends, and after a restart that replays the
whole stream into it again."""

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.gates import EASY_GATES
from tests.fixtures.gateway import sqlite_url
from tests.fixtures.stack import LiveStack

SPEC = {
    "task": "digits",
    "epochs": 2000,
    "batch_size": 32,
    "device": "cpu",
    "morphogenesis": {"enabled": False, "gates": EASY_GATES},
}
RETENTION_DAYS = 2.0 / 86400  # history older than 2 s is pruned


@pytest.fixture
def stack(redis_url: str, tmp_path: Path) -> Iterator[LiveStack]:
    live = LiveStack(
        sqlite_url(tmp_path),
        redis_url,
        tmp_path,
        workers=1,
        ESPER_TELEMETRY_RETENTION_DAYS=str(RETENTION_DAYS),
        ESPER_TELEMETRY_PRUNE_INTERVAL_S="0.5",
        ESPER_TELEMETRY_PERSIST_INTERVAL_S="0.05",
    )
    yield live
    print(live.logs()[-20000:])
    live.stop()


def command(stack: LiveStack, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = stack.client.post(
        f"/api/v1/runs/{run_id}/commands", params={"wait": 10}, json=body, timeout=20
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["state"] == "applied", result
    return result


def seeds(stack: LiveStack, run_id: str) -> dict[str, dict[str, Any]]:
    response = stack.client.get(f"/api/v1/runs/{run_id}/seeds")
    assert response.status_code == 200, response.text
    return {s["seed_id"]: s for s in response.json()}


def history(
    stack: LiveStack, run_id: str, names: str, **query: str
) -> list[dict[str, Any]]:
    page = stack.client.get(
        f"/api/v1/runs/{run_id}/telemetry",
        params={"names": names, "limit": 5000, **query},
    )
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def until(check: Callable[[], Any], stack: LiveStack, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {check}\n{stack.logs()[-8000:]}")


def plant_two_cull_one(stack: LiveStack, run_id: str) -> None:
    """While paused no step runs, so the first seed is certainly still
    GERMINATED when it is culled."""
    command(stack, run_id, {"type": "pause"})
    first = {"type": "seed_enable", "slot": "block0", "blueprint": "low_rank"}
    assert command(stack, run_id, first)["result"]["seed_id"] == "seed-1"
    command(stack, run_id, {"type": "seed_disable", "seed_id": "seed-1"})
    second = {"type": "seed_enable", "slot": "block1", "blueprint": "low_rank"}
    assert command(stack, run_id, second)["result"]["seed_id"] == "seed-2"
    command(stack, run_id, {"type": "resume"})


def check_lineage(found: dict[str, dict[str, Any]]) -> None:
    culled, grown = found["seed-1"], found["seed-2"]
    assert (culled["outcome"], culled["stage"]) == ("culled", "CULLED")
    assert culled["ended_step"] == culled["germinated_step"]  # culled while paused
    assert [h["stage"] for h in culled["history"]][:3] == [
        "GERMINATED",
        "CULLED",
        "EMBARGOED",
    ]
    assert culled["history"][1]["reason"] == "operator seed_disable"
    # G0 planted it; G5 passes when its slot is reset after the embargo.
    verdicts = [(g["gate"], g["passed"]) for g in culled["gates"]]
    assert verdicts in ([("G0", True)], [("G0", True), ("G5", True)])
    assert (grown["outcome"], grown["stage"], grown["alpha"]) == (
        "fossilised",
        "FOSSILIZED",
        1.0,
    )
    assert (grown["slot"], grown["blueprint"]) == ("block1", "low_rank")
    assert grown["params"] > 0 and grown["ended_step"] > grown["germinated_step"]
    assert [h["stage"] for h in grown["history"]] == [
        "GERMINATED",
        "TRAINING",
        "BLENDING",
        "SHADOWING",
        "PROBATIONARY",
        "FOSSILIZED",
    ]
    gates = [(g["gate"], g["passed"]) for g in grown["gates"]]
    assert gates == [("G0", True), ("G2", True), ("G3", True), *[("G4", True)] * 2]
    assert "gain" in grown["gates"][-1]["figures"]


def test_lineage_during_and_after_the_run_whatever_the_retention(
    stack: LiveStack,
) -> None:
    run_id = stack.client.post("/api/v1/runs", json=SPEC).json()["id"]
    stack.wait_for_run(run_id, {"running"})
    plant_two_cull_one(stack, run_id)

    def grown() -> dict[str, dict[str, Any]] | None:
        found = seeds(stack, run_id)
        done = found.get("seed-2", {}).get("outcome") == "fossilised"
        return found if done else None

    during = until(grown, stack)
    assert stack.client.get(f"/api/v1/runs/{run_id}").json()["state"] == "running"
    check_lineage(during)
    # Retention took the events the lineage was built from.
    until(lambda: not history(stack, run_id, "kasmina.seed.*"), stack)
    check_lineage(seeds(stack, run_id))

    stack.client.post(f"/api/v1/runs/{run_id}/cancel")
    stack.wait_for_run(run_id, {"cancelled"})
    until(lambda: not history(stack, run_id, "*"), stack)  # all of it pruned
    after = seeds(stack, run_id)
    check_lineage(after)

    # A restarted gateway finds no history and reads the whole stream again:
    # every packet is applied a second time, and changes nothing.
    stack.gateway.env["ESPER_TELEMETRY_RETENTION_DAYS"] = "0"
    stack.restart_gateway()
    until(lambda: history(stack, run_id, "kasmina.seed.stage_changed"), stack)
    until(lambda: history(stack, run_id, "*", kind="state"), stack)
    assert seeds(stack, run_id) == after
