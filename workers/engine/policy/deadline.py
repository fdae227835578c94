"""Running the policy under its decision deadline, without blocking training.

The trainer submits a request and keeps training; at later steps it polls. A
decision that completed within the deadline (measured from submission to the
policy's return) is used; a later one is discarded and counted as a timeout.
While a late call is still running, no new request is made, so a slow policy can
never stall a step, let alone by more than the deadline.
"""

import time
from concurrent.futures import Future
from typing import Any

from workers.engine.helper_threads import helper_pool
from workers.engine.policy.base import Decision, Policy, PolicyInputs


class DeadlineRunner:
    def __init__(self, policy: Policy, deadline_ms: float) -> None:
        self.policy = policy
        self.deadline_s = deadline_ms / 1000.0
        self._pool = helper_pool(1, "tamiyo")
        self._future: Future[tuple[Decision, float]] | None = None
        self._submitted = 0.0
        self._timed_out = False
        self.context: Any = None  # what the caller attached to the request
        self.timeouts = 0
        self.last_latency_ms = 0.0

    def _timed_decide(self, inputs: PolicyInputs) -> tuple[Decision, float]:
        decision = self.policy.decide(inputs)
        return decision, time.perf_counter()

    @property
    def busy(self) -> bool:
        return self._future is not None

    def submit(self, inputs: PolicyInputs, context: Any = None) -> bool:
        """Start a decision; False when the previous one has not finished."""
        if self._future is not None:
            return False
        self._submitted = time.perf_counter()
        self._timed_out = False
        self.context = context
        self._future = self._pool.submit(self._timed_decide, inputs)
        return True

    def poll(self) -> tuple[Decision | None, bool]:
        """(decision or None, newly timed out). Never waits."""
        future = self._future
        if future is None:
            return None, False
        if not future.done():
            late = time.perf_counter() - self._submitted > self.deadline_s
            if late and not self._timed_out:
                self._timed_out = True
                self.timeouts += 1
                self.last_latency_ms = self.deadline_s * 1000
                return None, True
            return None, False
        self._future = None
        decision, finished = future.result()
        self.last_latency_ms = (finished - self._submitted) * 1000
        if self._timed_out:
            return None, False  # already counted; the late answer is dropped
        if finished - self._submitted > self.deadline_s:
            self.timeouts += 1
            return None, True
        return decision, False

    def decide(self, inputs: PolicyInputs) -> tuple[Decision | None, bool]:
        """Blocking form (tests, tools): wait at most the deadline."""
        if not self.submit(inputs):
            return None, False
        deadline = self._submitted + self.deadline_s
        while time.perf_counter() < deadline and not self._future_done():
            time.sleep(self.deadline_s / 20)
        decision, timed_out = self.poll()
        if decision is None and not timed_out and self.busy:
            return self.poll()
        return decision, timed_out

    def _future_done(self) -> bool:
        return self._future is not None and self._future.done()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
