"""Rank processes live no longer than their worker.

A spawned rank is a full torch process (hundreds of MB). If the worker dies
without running its `finally` (SIGKILL, `os._exit` after a forced halt, the OOM
killer), an orphaned rank would wait in a collective for up to the gloo timeout,
or train on forever: issue 20 found 170 of them holding 17 GB. So each rank
asks the kernel to SIGKILL it when its parent dies (Linux `PR_SET_PDEATHSIG`),
and the worker ends any rank still alive on its own exit paths.
"""

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
from typing import Any

log = logging.getLogger("esper.worker.ranks")

PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1

_live: dict[int, Any] = {}  # pid -> multiprocessing.Process, in the worker


def _prctl(option: int, value: int | bytes) -> bool:
    path = ctypes.util.find_library("c")
    if path is None:
        return False
    libc = ctypes.CDLL(path, use_errno=True)
    return int(libc.prctl(option, value, 0, 0, 0)) == 0


def bind_to_parent(parent_pid: int, name: str) -> None:
    """In a rank: die with the worker, and show as `name` to ps and psutil."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere only the worker's own exit paths end its ranks
    _prctl(PR_SET_NAME, name.encode()[:15])
    if not _prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL)):
        log.warning("PR_SET_PDEATHSIG failed; this rank may outlive its worker")
    # The worker may have died before the signal was armed: then our parent
    # is already someone else (init or a subreaper), and no signal will come.
    if parent_pid and os.getppid() != parent_pid:
        os._exit(1)


def track(process: Any) -> None:
    """In the worker: remember a started rank until it is joined."""
    _live[process.pid] = process


def forget(process: Any) -> None:
    _live.pop(process.pid, None)


def kill_all() -> None:
    """In the worker, on an exit path that skips `finally` (a forced halt's
    `os._exit`): SIGKILL every rank still alive."""
    for pid, process in list(_live.items()):
        if process.is_alive():
            with contextlib.suppress(ProcessLookupError):  # it just ended
                os.kill(pid, signal.SIGKILL)
        _live.pop(pid, None)
