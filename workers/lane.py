"""The emergency lane (risk R3): critical packets overtake bulk telemetry.

A packet at or above ESPER_EMERGENCY_THRESHOLD (level `critical` by default:
emergency escalations, verifier failures, isolation violations, halts) that the
token bucket admits (ESPER_EMERGENCY_MAX_PER_MIN) does not wait in the batched
queue: the lane's own thread XADDs it at once, in one MULTI, to the run's
stream (`esper:telemetry:{run_id}`: its cursor, history and `/ws/runs` order)
and to `esper:emergency` (the gateway relays it to `/ws/fleet`). A packet over
the bucket is demoted: it takes the bulk path like any other packet, to the
run's stream only, and is counted; nothing is dropped for the bucket.

Order on the run's stream: a lane packet may overtake bulk packets emitted
before it, never the other way round. The bulk thread drains the lane before
each pipeline it sends, so no bulk packet reaches the stream ahead of a lane
packet emitted before it (a run's final state packet, which ends every
reader's stream, above all). The stream stays the single order that live
frames, replay and history share (docs/telemetry.md, "Emergency lane").
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import redis

from api_schemas.bus import EMERGENCY_MAXLEN, EMERGENCY_STREAM, telemetry_stream
from workers import metrics
from workers.priority import name_os_thread
from workers.retry import written_until_refused

log = logging.getLogger("esper.worker.telemetry")

LEVEL_RANK = {"info": 0, "warning": 1, "critical": 2}
Entry = Callable[[float, dict[str, Any]], dict[str, str]]


class TokenBucket:
    """`per_min` tokens a minute, at most `per_min` held (a burst of one
    minute's allowance); 0 admits nothing. Not thread-safe by itself: the
    lane calls it under its lock."""

    def __init__(
        self, per_min: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = float(max(0, per_min))
        self.rate = self.capacity / 60.0  # tokens a second
        self.tokens = self.capacity
        self._clock = clock
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        elapsed = max(0.0, now - self._at)
        self._at = now
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class EmergencyLane:
    """The lane of one run's publisher: a deque and a thread of its own."""

    def __init__(
        self,
        client: redis.Redis,
        run_id: str,
        entry: Entry,
        *,
        maxlen: int,
        max_per_min: int,
        threshold: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = telemetry_stream(run_id)
        self.bucket = TokenBucket(max_per_min, clock)
        self.rank = LEVEL_RANK.get(threshold, LEVEL_RANK["critical"])
        self.sent = 0  # on both streams
        self.demoted = 0  # over the bucket: sent on the bulk path instead
        self.dropped = 0  # refused by Redis (as bulk batches are)
        self.depth_max = 0  # deepest queue since the last report
        self.changed = False  # counters moved since the last report
        self._client = client
        self._entry = entry
        self._maxlen = maxlen
        self._queue: deque[tuple[float, dict[str, Any]]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._inflight = False
        self._closing = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="telemetry-lane", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def offer(self, ts: float, packet: dict[str, Any]) -> bool:
        """True: the lane sends it. False: the bulk path must (below the
        threshold, or demoted by the bucket)."""
        if LEVEL_RANK.get(packet.get("level"), 0) < self.rank:  # type: ignore[arg-type]
            return False
        with self._lock:
            admitted = self.bucket.take()
            if admitted:
                self._queue.append((ts, packet))
                depth = len(self._queue)
                self.depth_max = max(self.depth_max, depth)
            else:
                self.demoted += 1
            self.changed = True
        if not admitted:
            metrics.EMERGENCY_PACKETS.labels("demoted").inc()
            return False
        metrics.EMERGENCY_QUEUE_DEPTH.set(depth)
        self._wake.set()
        return True

    @property
    def busy(self) -> bool:
        return bool(self._queue) or self._inflight

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every lane packet offered so far is on the streams."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self.busy and time.monotonic() < deadline:
                if not self._thread.is_alive():
                    return False
                self._idle.wait(0.01)
            return not self.busy

    def close(self, timeout: float = 10.0) -> None:
        self.drain(timeout)
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout)

    def report(self) -> tuple[int, int, int, int]:
        """(sent, demoted, dropped, deepest queue since the last report)."""
        with self._lock:
            depth, self.depth_max = self.depth_max, len(self._queue)
            self.changed = False
        return self.sent, self.demoted, self.dropped, depth

    def _loop(self) -> None:
        name_os_thread("esper-lane")
        while not self._closing.is_set() or self._queue:
            self._wake.wait()
            self._wake.clear()
            while self._queue:
                with self._idle, self._lock:
                    batch = list(self._queue)
                    self._queue.clear()
                    self._inflight = True
                metrics.EMERGENCY_QUEUE_DEPTH.set(0)
                try:
                    self._send(batch)
                except Exception:  # a dead lane would hold the bulk path
                    log.exception("emergency lane batch of %d lost", len(batch))
                    self._count_dropped(len(batch))
                with self._idle:
                    self._inflight = False
                    self._idle.notify_all()

    def _send(self, batch: list[tuple[float, dict[str, Any]]]) -> None:
        entries = [self._entry(ts, packet) for ts, packet in batch]
        if not written_until_refused(
            lambda: self._xadd(entries), "emergency lane write", log, first_s=0.02
        ):
            self._count_dropped(len(entries))
            return
        self.sent += len(entries)
        self.changed = True
        metrics.EMERGENCY_PACKETS.labels("lane").inc(len(entries))

    def _count_dropped(self, count: int) -> None:
        self.dropped += count
        self.changed = True
        metrics.EMERGENCY_PACKETS.labels("dropped").inc(count)

    def _xadd(self, entries: list[dict[str, str]]) -> None:
        # One MULTI: the run's copy and the fleet's land together or not at
        # all, so a retry never writes either twice.
        pipe = self._client.pipeline(transaction=True)
        for entry in entries:
            pipe.xadd(
                self.stream,
                entry,  # type: ignore[arg-type]  # redis-py: dict is invariant
                maxlen=self._maxlen,
                approximate=True,
            )
            pipe.xadd(
                EMERGENCY_STREAM,
                entry,  # type: ignore[arg-type]
                maxlen=EMERGENCY_MAXLEN,
                approximate=True,
            )
        pipe.execute()
