"""The client CLI (`esper runs|workers|keys|fleet|registry|login`) against one
live stack with auth on: every command, its output formats and exit codes.
Most commands run in-process (typer's runner, fast); the follower that must
survive a gateway restart runs as a real `esper` process."""

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner, Result

from app.cli.main import cli
from tests.fixtures.gateway import ROOT, bearer, sqlite_url
from tests.fixtures.stack import LiveStack

ADMIN = "cli-test-admin-token"
QUICK: dict[str, Any] = {
    "task": "digits",
    "epochs": 1,
    "batch_size": 64,
    "device": "cpu",
    "morphogenesis": {"enabled": False},
}
LONG: dict[str, Any] = {
    **QUICK,
    "epochs": 2000,
    "batch_size": 32,
    "checkpoint_every": 20,
}


@pytest.fixture(scope="module")
def stack(
    module_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    tmp = tmp_path_factory.mktemp("cli")
    live = LiveStack(
        sqlite_url(tmp),
        module_redis_url,
        tmp,
        workers=1,
        ESPER_AUTH="on",
        ESPER_LOCAL_MODE="0",
        ESPER_ADMIN_TOKEN=ADMIN,
    )
    live.client.headers.update(bearer(ADMIN))
    yield live
    print(live.logs()[-20000:])
    live.stop()


@pytest.fixture
def esper(
    stack: LiveStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """`esper ARGS` in-process as the admin (ESPER_URL/ESPER_TOKEN), with a
    profile folder of the test's own."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = CliRunner()

    def invoke(*args: str, token: str | None = ADMIN, **env: str) -> Result:
        environ = {"ESPER_URL": stack.url, "ESPER_TOKEN": token, **env}
        return runner.invoke(cli, list(args), env=environ)

    yield invoke


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _spec(tmp_path: Path, spec: dict[str, Any], suffix: str = ".yaml") -> str:
    path = tmp_path / f"spec{suffix}"
    text = json.dumps(spec) if suffix == ".json" else yaml.safe_dump(spec)
    path.write_text(text)
    return str(path)


def _start(esper: Any, tmp_path: Path, **overrides: Any) -> str:
    run = _json(
        esper("runs", "submit", _spec(tmp_path, {**LONG, **overrides}), "-o", "json")
    )
    return str(run["id"])


def test_submit_wait_and_read_a_completed_run(esper: Any, tmp_path: Path) -> None:
    spec = _spec(tmp_path, QUICK)
    submitted = esper(
        "runs",
        "submit",
        spec,
        "--name",
        "cli-quick",
        "--set",
        "labels.suite=cli",
        "--wait",
        "-o",
        "json",
    )
    run = _json(submitted)
    assert run["state"] == "completed" and run["name"] == "cli-quick"
    assert run["spec"]["labels"] == {"suite": "cli"}
    listed = _json(esper("runs", "list", "--label", "suite=cli", "-o", "json"))
    assert [r["id"] for r in listed] == [run["id"]]
    got = yaml.safe_load(esper("runs", "get", run["id"], "-o", "yaml").stdout)
    assert got["id"] == run["id"] and got["state"] == "completed"
    # The model bundle is uploaded by the worker's uploader as the run ends;
    # under load the listing can trail the run's completed state briefly.
    deadline = time.monotonic() + 30
    table = esper("runs", "artifacts", run["id"])
    while "model.safetensors" not in table.stdout and time.monotonic() < deadline:
        time.sleep(0.5)
        table = esper("runs", "artifacts", run["id"])
    assert table.exit_code == 0 and "model.safetensors" in table.stdout
    artifacts = {
        a["name"]: a for a in _json(esper("runs", "artifacts", run["id"], "-o", "json"))
    }
    one = tmp_path / "model.json"
    assert (
        esper("runs", "download", run["id"], "model.json", "-O", str(one)).exit_code
        == 0
    )
    assert json.loads(one.read_text())["task"] == "digits"
    everything = tmp_path / "all"
    assert esper("runs", "download", run["id"], "-O", str(everything)).exit_code == 0
    assert {p.name for p in everything.iterdir()} == set(artifacts)
    assert _json(esper("runs", "seeds", run["id"], "-o", "json")) == []
    # --wait returned once the history held the run's end (it trails the
    # run's state by the persister's cycle): no polling needed here.
    history = esper("runs", "logs", run["id"])
    assert history.exit_code == 0, history.output
    assert "state completed" in history.stdout
    # Following a run that has ended replays it and exits with its outcome.
    followed = esper("runs", "logs", run["id"], "-f", "-o", "json")
    frames = [json.loads(line) for line in followed.stdout.splitlines()]
    assert followed.exit_code == 0, followed.output
    assert frames[-1]["kind"] == "state" and frames[-1]["value"] == "completed"


def test_commands_steer_a_run_and_halt_exits_3(
    esper: Any, stack: LiveStack, tmp_path: Path
) -> None:
    run_id = _start(esper, tmp_path)
    stack.wait_for_run(run_id, {"running"})
    paused = _json(esper("runs", "pause", run_id, "-o", "json"))
    assert paused["type"] == "pause" and paused["state"] == "applied"
    stack.wait_for_run(run_id, {"paused"})
    enabled = _json(
        esper(
            "runs",
            "seed-enable",
            run_id,
            "--slot",
            "block0",
            "--blueprint",
            "low_rank",
            "-o",
            "json",
        )
    )
    assert enabled["state"] == "applied", enabled
    seed_id = enabled["result"]["seed_id"]
    assert esper("runs", "seed-disable", run_id, seed_id).exit_code == 0
    rejected = esper("runs", "seed-disable", run_id, "no-such-seed")
    assert rejected.exit_code == 1 and "rejected" in rejected.output
    assert esper("runs", "resume", run_id).exit_code == 0
    stack.wait_for_run(run_id, {"running"})
    profiled = _json(esper("runs", "profile", run_id, "--steps", "2", "-o", "json"))
    assert profiled["type"] == "profile" and profiled["state"] == "applied"
    assert profiled["params"] == {"steps": 2} and profiled["result"]["steps"] == 2
    assert profiled["result"]["artifact"].endswith(".json.gz")
    assert esper("runs", "profile", run_id, "--steps", "501").exit_code == 2
    for _ in range(100):  # a rollback needs a checkpoint (every 20 steps)
        if stack.client.get(f"/api/v1/runs/{run_id}/checkpoints").json():
            break
        time.sleep(0.2)
    assert esper("runs", "rollback", run_id).exit_code == 0
    halted = _json(esper("runs", "halt", run_id, "--reason", "cli test", "-o", "json"))
    assert halted["state"] == "applied"
    assert stack.wait_for_run(run_id, {"halted"})["halt_reason"] == "cli test"
    assert esper("runs", "logs", run_id, "-f").exit_code == 3
    terminal = esper("runs", "pause", run_id)
    assert terminal.exit_code == 1 and "run_terminal" in terminal.output


def test_stop_and_submit_with_follow_exit_with_the_outcome(
    esper: Any, stack: LiveStack, tmp_path: Path
) -> None:
    run_id = _start(esper, tmp_path)
    stack.wait_for_run(run_id, {"running"})
    assert esper("runs", "stop", run_id).exit_code == 0
    stack.wait_for_run(run_id, {"cancelled"})
    quick = _spec(tmp_path, QUICK, ".json")
    followed = esper("runs", "submit", quick, "--follow")
    assert followed.exit_code == 0, followed.output
    assert "state completed" in followed.stdout
    assert "state running" in followed.stdout


def test_exit_codes_for_usage_auth_and_not_found(esper: Any, tmp_path: Path) -> None:
    assert esper("runs", "get", "00000000-0000-0000-0000-000000000000").exit_code == 5
    assert esper("runs", "list", token="esk_not_a_key").exit_code == 4
    assert (
        esper("runs", "submit", _spec(tmp_path, {**QUICK, "epochs": 0})).exit_code == 2
    )
    assert esper("runs", "submit", str(tmp_path / "missing.yaml")).exit_code == 2
    assert esper("runs", "submit", _spec(tmp_path, QUICK), "--set", "x").exit_code == 2
    assert esper("runs", "list", "--output", "xml").exit_code == 2
    assert esper("runs", "list", "--url", "http://127.0.0.1:9").exit_code == 1


def test_keys_login_and_profiles(esper: Any, tmp_path: Path) -> None:
    viewer = _json(
        esper("keys", "create", "cli-viewer", "--role", "viewer", "-o", "json")
    )
    assert viewer["role"] == "viewer" and viewer["token"]
    keys = _json(esper("keys", "list", "-o", "json"))
    assert viewer["id"] in {k["id"] for k in keys}
    # A viewer may read but not manage keys (403: exit 4).
    assert esper("keys", "list", token=viewer["token"]).exit_code == 4
    logged = esper("login", "--token", viewer["token"])  # --url from ESPER_URL
    assert logged.exit_code == 0, logged.output
    profiles = tmp_path / "config" / "esper" / "profiles.json"
    assert stat.S_IMODE(profiles.stat().st_mode) == 0o600
    saved = json.loads(profiles.read_text())
    # Neither ESPER_URL nor ESPER_TOKEN now: the profile alone connects.
    stack_url = saved["profiles"]["default"]["url"]
    alone = CliRunner().invoke(
        cli,
        ["runs", "list", "-o", "json"],
        env={"ESPER_URL": None, "ESPER_TOKEN": None},
    )
    assert alone.exit_code == 0, alone.output
    assert stack_url.startswith("http://127.0.0.1:")
    assert esper("keys", "revoke", viewer["id"]).exit_code == 0
    revoked = CliRunner().invoke(
        cli, ["runs", "list"], env={"ESPER_URL": None, "ESPER_TOKEN": None}
    )
    assert revoked.exit_code == 4
    assert esper("runs", "list", "--profile", "nope").exit_code == 2


def test_follow_resumes_across_a_gateway_restart(
    stack: LiveStack, tmp_path: Path, esper: Any
) -> None:
    """A real `esper runs logs -f` process: the gateway restarts under it, it
    reconnects with its cursor, and it ends with every packet the run's history
    holds, none twice."""
    run_id = _start(esper, tmp_path)
    stack.wait_for_run(run_id, {"running"})
    env = {**os.environ, "ESPER_URL": stack.url, "ESPER_TOKEN": ADMIN}
    out = (tmp_path / "frames.jsonl").open("w")
    follower = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "runs", "logs", run_id, "-f", "-o", "json"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_lines(tmp_path / "frames.jsonl", 20)
        stack.restart_gateway()
        stack.client.headers.update(bearer(ADMIN))
        seen = _count(tmp_path / "frames.jsonl")
        _wait_lines(tmp_path / "frames.jsonl", seen + 20)
        stack.client.post(f"/api/v1/runs/{run_id}/cancel")
        assert follower.wait(60) == 3
    finally:
        if follower.poll() is None:
            follower.kill()
        out.close()
    notes = follower.stderr.read() if follower.stderr else ""
    assert "reconnecting (resume after " in notes, notes
    frames = [
        json.loads(line)
        for line in (tmp_path / "frames.jsonl").read_text().splitlines()
    ]
    cursors = [f["cursor"] for f in frames]
    keys = [tuple(int(p) for p in c.split("-")) for c in cursors]
    assert keys == sorted(set(keys)), "a frame repeated or out of order"
    assert frames[-1]["value"] == "cancelled"
    assert _history_cursors(stack.client, run_id) <= set(cursors)


def _history_cursors(client: httpx.Client, run_id: str) -> set[str]:
    cursors: set[str] = set()
    params: dict[str, Any] = {"limit": 500}
    while True:
        page = client.get(f"/api/v1/runs/{run_id}/telemetry", params=params).json()
        cursors |= {p["cursor"] for p in page["items"]}
        if not page.get("next_cursor"):
            return cursors
        params["after"] = page["next_cursor"]


def _count(path: Path) -> int:
    return len(path.read_text().splitlines())


def _wait_lines(path: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _count(path) < count:
        assert time.monotonic() < deadline, f"fewer than {count} frames"
        time.sleep(0.1)


def test_workers_registry_fleet_and_completion(
    esper: Any, stack: LiveStack, tmp_path: Path
) -> None:
    workers = _json(esper("workers", "list", "-o", "json"))
    assert len(workers) == 1 and workers[0]["state"] in ("idle", "busy")
    reset = _json(esper("registry", "reset", "-o", "json"))
    assert reset["type"] == "registry_reset"
    run_id = _start(esper, tmp_path)
    stack.wait_for_run(run_id, {"running"})
    halted = _json(esper("fleet", "halt", "-o", "json"))
    assert run_id in {c["run_id"] for c in halted}
    stack.wait_for_run(run_id, {"halted"})
    drained = _json(esper("workers", "drain", workers[0]["id"], "-o", "json"))
    assert drained["state"] in ("draining", "drained")
    completion = CliRunner().invoke(cli, ["--show-completion", "bash"])
    assert completion.exit_code == 0 and "complete" in completion.stdout
