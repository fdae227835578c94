"""Thread pools for the engine's helpers (blueprint builds, the policy, the
checkpoint writer), each thread running torch single-threaded.

Why: with torch's OpenMP backend every thread that runs a parallel op gets an
OpenMP team of its own. Once the process holds more OpenMP threads than cores,
libgomp stops letting idle team threads spin between parallel regions, so every
small op on the training thread pays for waking its team: one builder thread's
`uniform_` on a 512x256 weight made CPU training steps 2.5x slower for the rest
of the run. Helpers do small work; one thread each is plenty.
"""

from concurrent.futures import ThreadPoolExecutor

import torch


def _single_threaded() -> None:
    torch.set_num_threads(1)  # this thread's OpenMP setting only


def helper_pool(workers: int, name: str) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix=name, initializer=_single_threaded
    )
