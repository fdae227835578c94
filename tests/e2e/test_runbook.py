"""Runs every curl command of docs/RUNBOOK.md against a live, authenticated stack,
in order, so the runbook cannot go stale."""

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.gateway import ROOT, sqlite_url
from tests.fixtures.stack import LiveStack

ADMIN = "esk_runbook_admin_token_0123456789"
SECTION = "## Operating runs with curl"


def runbook_blocks() -> list[str]:
    text = (ROOT / "docs" / "RUNBOOK.md").read_text()
    section = text[text.index(SECTION) :]
    following = re.search(r"\n## ", section[len(SECTION) :])
    if following:
        section = section[: len(SECTION) + following.start()]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def secured_stack(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    tmp = tmp_path_factory.mktemp("runbook")
    live = LiveStack(
        sqlite_url(tmp),
        module_redis_url,
        tmp,
        workers=1,
        ESPER_AUTH="on",
        ESPER_LOCAL_MODE="0",
        ESPER_ADMIN_TOKEN=ADMIN,
    )
    yield live
    live.stop()


def test_runbook_has_the_operator_situations() -> None:
    joined = "\n".join(runbook_blocks())
    for needle in (
        '"type":"pause"',
        '"type":"resume"',
        "emergency/halt",
        '"type":"emergency_halt"',
        '"type":"rollback"',
        "seed_enable",
        "seed_disable",
        "registry/reset",
        "/api/v1/keys",
        "/artifacts/",
        '"resume_from"',
        "/drain",
        '"type":"profile"',
    ):
        assert needle in joined, needle


def test_every_runbook_command_works(secured_stack: LiveStack, tmp_path: Path) -> None:
    blocks = runbook_blocks()
    script = [
        "set -euo pipefail",
        f"export ESPER_URL={secured_stack.url} ESPER_TOKEN={ADMIN}",
    ]
    for index, block in enumerate(blocks[1:], start=1):  # block 0 is the exports
        script += [f"echo '::block {index}' >&2", block]
        if index == 1:  # once submitted, wait until the run trains
            script.append(f"{_wait_running()}")
    path = tmp_path / "runbook.sh"
    path.write_text("\n".join(script) + "\n")
    done = subprocess.run(
        ["bash", str(path)], capture_output=True, text=True, timeout=240, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-4000:] + secured_stack.logs()[-4000:]
    markers = re.findall(r"::block (\d+)", done.stderr)
    assert len(markers) == len(blocks) - 1
    _assert_outcomes(secured_stack)


def _wait_running() -> str:
    return (
        'for i in $(seq 1 300); do curl -fsS "$ESPER_URL/api/v1/runs/$RUN_ID" '
        '-H "Authorization: Bearer $ESPER_TOKEN" | grep -q \'"state":"running"\' '
        "&& break; sleep 0.1; done"
    )


def _assert_outcomes(stack: LiveStack) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    runs = httpx.get(stack.url + "/api/v1/runs", headers=headers).json()["items"]
    named = {r["name"]: r for r in runs}
    run, fork = named["runbook"], named["runbook-fork"]
    assert run["state"] == "halted" and run["halt_reason"] == "loss diverging"
    assert fork["state"] == "completed"
    assert fork["spec"]["resume_from"]["run_id"] == run["id"]
    ledger = httpx.get(
        f"{stack.url}/api/v1/runs/{run['id']}/commands", headers=headers
    ).json()["items"]
    # The first command of each type is the one its section sent; "halt
    # everything" may add a second halt if it ran before the first halt's final
    # state reached the database (that one expires with `run_ended`).
    states: dict[str, str] = {}
    for c in ledger:
        states.setdefault(c["type"], c["state"])
    for kind in (
        "pause",
        "resume",
        "seed_enable",
        "seed_disable",
        "rollback",
        "emergency_halt",
    ):
        assert states.get(kind) == "applied", (
            kind,
            [c for c in ledger if c["type"] == kind],
        )
