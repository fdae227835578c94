"""Rank processes die with their worker (issue 20, item 2): a worker killed
with SIGKILL mid-run (no `finally`, no atexit) leaves no rank behind."""

import os
import signal
import time

import psutil

from tests.integration.conftest import SpawnWorker
from tests.integration.worker.busio import ENDLESS, Client, assign, wait_for

GONE_WITHIN_S = 5.0


def rank_processes(worker_pid: int) -> list[psutil.Process]:
    """The worker's spawned ranks (not its resource tracker)."""
    found = []
    for child in psutil.Process(worker_pid).children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue  # ended while we looked
    return found


def alive(process: psutil.Process) -> bool:
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def named(process: psutil.Process) -> bool:
    """Bound to its worker: it names itself right after arming the signal
    (before that, a rank whose worker died exits once its imports finish)."""
    try:
        return bool(process.name().startswith("esper-rank-"))
    except psutil.NoSuchProcess:
        return False


def wait_for_ranks(worker_pid: int, timeout: float = 90) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ranks = [p for p in rank_processes(worker_pid) if named(p)]
        if ranks:
            return ranks
        time.sleep(0.05)
    raise AssertionError("the worker never spawned its rank")


def kill_and_check(worker_pid: int, ranks: list[psutil.Process]) -> None:
    os.kill(worker_pid, signal.SIGKILL)
    deadline = time.monotonic() + GONE_WITHIN_S
    while any(alive(p) for p in ranks) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p.pid for p in ranks if alive(p)]
    for pid in left:  # never leak them into the next test, even on failure
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"rank processes outlived their worker: {left}"


def test_a_worker_killed_while_its_ranks_start_leaves_none(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    """Killed while the rank is still starting (meeting its peers, building
    its model): the moment issue 20's 59 orphans were left in."""
    worker = spawn_worker(worker_id="w-ddp-kill-early")
    assign(bus, {**ENDLESS, "devices": 2})
    ranks = wait_for_ranks(worker.pid)
    kill_and_check(worker.pid, ranks)


def test_a_worker_killed_mid_training_leaves_no_rank(
    bus: Client, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(worker_id="w-ddp-kill")
    run_id = assign(bus, {**ENDLESS, "devices": 2})
    wait_for(
        bus,
        lambda e: e["type"] == "progress" and e["run_id"] == run_id and e["step"] > 0,
        timeout=90,
        what="progress",
    )
    ranks = rank_processes(worker.pid)
    assert [p.name() for p in ranks] == ["esper-rank-1"]  # findable when orphaned
    kill_and_check(worker.pid, ranks)
