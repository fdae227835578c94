"""The training thread gives way to the worker's command reader.

On a busy host (the all-in-one stack above all: gateway, Redis and a CPU
worker on two cores) the command reader woke up behind the training thread
and a command waited for a time slice: its worker leg reached 8-10 ms at p99.
A higher nice value on the thread that trains (and on what it starts later:
torch's thread pool, per-run helper threads) lets the scheduler run the
reader, the heartbeat and the other processes first; with an idle core it
changes nothing. Measured in pairs on the 2-core VM: command p99 12.6-14.1 ms
at nice 0, 7.8-12.7 ms with the training thread at 15 (docs/benchmarks-log.md).
Without privileges a nice value can only be raised, so this is done once, on
the training thread, after the reader and the heartbeat have started.

It is off by default and on (15) only under `esper up`. A raised nice value is
a share, not an order: on a host whose cores are all busy with other work at
nice 0 (data-loader processes, a build) the training thread gets a few per cent
of a core. Measured on the 2-core VM with two busy loops beside a one-thread
digits-sized MLP: 198 steps/s at nice 0, 101 at 5, 10 at 15. On a dedicated
worker host that trade is wrong; on an operator's all-in-one machine, training
that yields to everything interactive is what `nice` is for.

A limit: the reader needs the GIL, and a nice training thread that the
scheduler has set aside while holding it makes the reader wait too. For
emergency halts the nice value did not separate the runs (p99 over 60 halts,
nice 15: 9.4-16.4 ms; nice 0: 7.3-18.9 ms; docs/benchmarks-log.md, 2026-11-25 night).
"""

import contextlib
import ctypes
import logging
import os
import sys
import threading

log = logging.getLogger("esper.worker")


def lower_this_thread(nice: int) -> int | None:
    """Raise this thread's nice value to `nice` (Linux: per thread); returns
    the value now in force, or None where this is off or unsupported."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return None
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return os.getpriority(os.PRIO_PROCESS, tid)
    except OSError as exc:  # a sandbox may refuse even this
        log.warning("could not lower the training thread's priority: %s", exc)
        return None


_PR_SET_NAME = 15


def name_os_thread(name: str) -> None:
    """Name this thread for the OS (top -H, ps -L, /proc/PID/task/*/comm), so a
    stall can be pinned on the reader, the trainer or a helper: 15 bytes at most."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
