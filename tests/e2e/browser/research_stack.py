"""The stack the researcher's dashboard tests share (test_research.py and
test_research_architecture.py): its runs, submitted once for both modules by
the package-scoped `live` fixture in conftest.py, and the docs' screenshots."""

import os
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.browser.conftest import ROOT, SCREENSHOTS
from tests.e2e.browser.dashboard import (
    LONG_RUN,
    Dashboard,
    api_client,
    submit_run,
    wait_state,
)
from tests.fixtures.gates import EASY_GATES
from tests.fixtures.stack import LiveStack

Open = Callable[[str], Dashboard]
# The docs' screenshots are rewritten only when asked (ESPER_DOC_SCREENSHOTS=1),
# so a test run leaves the tree clean; otherwise they go with the test artifacts.
DOC_SHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("ESPER_DOC_SCREENSHOTS") == "1"
    else SCREENSHOTS
)
DOC_SHOTS.mkdir(parents=True, exist_ok=True)
# Short runs that finish in seconds, differing in two hyperparameters.
SHORT = {"task": "digits", "epochs": 3, "device": "cpu"}
SHORT_RUNS = {
    "cmp-lr-small": {**SHORT, "learning_rate": 0.01, "labels": {"sweep": "lr"}},
    "cmp-lr-large": {**SHORT, "learning_rate": 0.05, "labels": {"sweep": "lr"}},
    "spiral-probe": {"task": "spirals", "epochs": 2, "device": "cpu"},
}
# A run that grows: once it has trained a little, the operator pauses it, plants
# a seed in block0 and culls it, then plants one in block1; with gates any seed
# passes (tests/fixtures/gates.py) that one
# fossilises two or three epoch ends later (an epoch is 45 steps; 12 leave
# room for a growth as late as step 400 on a fast machine).
GROWN_RUN = {
    "task": "digits",
    "epochs": 12,
    "batch_size": 32,
    "device": "cpu",
    "morphogenesis": {"enabled": False, "gates": EASY_GATES},
}
GROWTH_COMMANDS = [
    {"type": "pause"},
    {"type": "seed_enable", "slot": "block0", "blueprint": "low_rank"},
    {"type": "seed_disable", "seed_id": "seed-1"},
    {"type": "seed_enable", "slot": "block1", "blueprint": "low_rank"},
    {"type": "resume"},
]


def submit_research_runs(stack: LiveStack) -> dict[str, dict[str, Any]]:
    """Three short runs (they finish first on the one worker), one that grows,
    then a long one that keeps training; returns once the short ones and the
    grown one have completed and their history is recorded."""
    client = api_client(stack)
    runs = {n: submit_run(client, n, spec) for n, spec in SHORT_RUNS.items()}
    runs["grown"] = submit_run(client, "grown", GROWN_RUN)
    held = client.post(
        f"/api/v1/runs/{runs['grown']['id']}/commands", json={"type": "pause"}
    )
    assert held.status_code == 202, held.text
    runs["long"] = submit_run(client, "long-accuracy", LONG_RUN)
    for name in SHORT_RUNS:
        wait_state(client, runs[name]["id"], {"completed"}, timeout=90)
    _grow(client, runs["grown"]["id"], held.json()["id"])
    wait_state(client, runs["grown"]["id"], {"completed"}, timeout=90)
    for name in [*SHORT_RUNS, "grown"]:  # their history and lineage, complete
        stack.wait_for_history(runs[name]["id"])
    return runs


def _grow(client: httpx.Client, run_id: str, held: str) -> None:
    """The growth commands once the run has trained a little: `held` is a
    pause sent while it was queued (so it holds at its first step); a resume
    and a second pause let it train for a moment's worth of steps, so the
    parameter chart shows the growth as a step, not at its start."""
    deadline = time.monotonic() + 90
    while client.get(f"/api/v1/commands/{held}").json()["state"] != "applied":
        assert time.monotonic() < deadline, "the queued pause was never applied"
        time.sleep(0.1)
    for body in [{"type": "resume"}, *GROWTH_COMMANDS]:
        sent = client.post(
            f"/api/v1/runs/{run_id}/commands", params={"wait": 10}, json=body
        )
        assert sent.status_code == 200 and sent.json()["state"] == "applied", sent.text
        if body["type"] == "resume" and body is not GROWTH_COMMANDS[-1]:
            time.sleep(0.1)  # some steps before the growth (50-100 here)
