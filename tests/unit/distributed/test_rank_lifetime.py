"""The kernel ends a rank when its worker dies (workers/rank_lifetime.py): a
process that spawned a bound rank is SIGKILLed, and the rank follows within
seconds, with no `finally` or atexit of the parent involved."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from workers.rank_lifetime import bind_to_parent

ROOT = Path(__file__).resolve().parents[3]
# A stand-in worker: spawns one bound "rank" the way DistributedRun does, prints
# its pid, then waits to be killed.
PARENT = """
import multiprocessing as mp, os, time
from tests.unit.distributed.test_rank_lifetime import sleep_bound
if __name__ == "__main__":
    child = mp.get_context("spawn").Process(
        target=sleep_bound, args=(os.getpid(),), daemon=True
    )
    child.start()
    print(child.pid, flush=True)
    time.sleep(120)
"""

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only"
)


def sleep_bound(parent_pid: int) -> None:
    bind_to_parent(parent_pid, "esper-rank-9")
    time.sleep(120)


def gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_a_rank_dies_with_its_sigkilled_parent() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 30
    while psutil.Process(child).name() != "esper-rank-9":  # bound (named) yet?
        assert time.monotonic() < deadline, "the rank never bound itself"
        time.sleep(0.05)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(5)
    if not gone(child, within=5):
        os.kill(child, signal.SIGKILL)
        pytest.fail("the rank outlived its parent")


def test_a_rank_whose_parent_already_died_exits() -> None:
    """The worker may die before the rank arms its signal: it then exits at once."""
    code = "from workers.rank_lifetime import bind_to_parent; bind_to_parent(1, 'x')"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=30)
    assert done.returncode == 1
