"""Running the policy under its decision deadline.

The policy runs on one background thread; the trainer waits at most the deadline.
A late decision is discarded (no growth this step) and, while the late call is
still running, later calls are answered `wait` at once, so a slow policy can
never stall training by more than one deadline.
"""

import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from workers.engine.policy.base import Decision, Policy, PolicyInputs


class DeadlineRunner:
    def __init__(self, policy: Policy, deadline_ms: float) -> None:
        self.policy = policy
        self.deadline_s = deadline_ms / 1000.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tamiyo")
        self._late: Future[Decision] | None = None
        self.timeouts = 0
        self.last_latency_ms = 0.0

    def decide(self, inputs: PolicyInputs) -> tuple[Decision, bool]:
        """(decision, timed_out). A timeout yields a `wait` decision."""
        if self._late is not None and not self._late.done():
            return Decision(reason="policy busy with a late decision"), False
        self._late = None
        started = time.perf_counter()
        future = self._pool.submit(self.policy.decide, inputs)
        try:
            decision = future.result(timeout=self.deadline_s)
        except FutureTimeout:
            self._late = future
            self.timeouts += 1
            self.last_latency_ms = (time.perf_counter() - started) * 1000
            return Decision(reason="policy missed its deadline"), True
        self.last_latency_ms = (time.perf_counter() - started) * 1000
        return decision, False

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
