"""Telemetry publisher: the engine appends, a background thread pipelines XADDs.

Critical packets skip the queue on the emergency lane (workers/lane.py).
"""

import json
import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import redis

from api_schemas.bus import DATA_FIELD, telemetry_stream
from workers.lane import EmergencyLane
from workers.priority import name_os_thread
from workers.retry import written_until_refused

log = logging.getLogger("esper.worker.telemetry")

# Past this many unsent packets (Redis down for long) the oldest are dropped, so
# a Redis outage cannot exhaust the worker's memory.
MAX_BACKLOG = 1_000_000
# How often, at most, the lane's counters go out as `oona.emergency.*` packets
# (only when they changed: a run whose lane is never used sends none).
LANE_REPORT_S = 1.0


class TelemetryPublisher:
    """Batches packets into `esper:telemetry:{run_id}`; `emit` never blocks."""

    def __init__(
        self,
        client: redis.Redis,
        run_id: str,
        *,
        maxlen: int,
        flush_s: float = 0.03,
        batch: int = 500,
        emergency_max_per_min: int = 120,
        emergency_threshold: str = "critical",
    ) -> None:
        self.run_id = run_id
        self.stream = telemetry_stream(run_id)
        self.sent = 0
        self.dropped = 0
        self._client = client
        self._maxlen = maxlen
        self._flush_s = flush_s
        self._batch = batch
        self._queue: deque[tuple[float, dict[str, Any]]] = deque()
        self._closing = threading.Event()
        self._idle = threading.Condition()
        self._inflight = False
        self._thread = threading.Thread(
            target=self._loop, name="telemetry", daemon=True
        )
        self.lane = EmergencyLane(
            client,
            run_id,
            self._entry,
            maxlen=maxlen,
            max_per_min=emergency_max_per_min,
            threshold=emergency_threshold,
        )
        self._report_at = 0.0

    def start(self) -> None:
        self.lane.start()
        self._thread.start()

    def emit(self, packet: dict[str, Any]) -> None:
        """Called on the training thread: a timestamp and an append, nothing
        else (a critical packet: onto the lane instead, which wakes its thread)."""
        ts = time.time()
        if packet.get("level") != "info" and self.lane.offer(ts, packet):
            return
        if self.lane.changed and ts - self._report_at >= LANE_REPORT_S:
            self._report_lane(ts, packet)
        if len(self._queue) >= MAX_BACKLOG:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append((ts, packet))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything emitted so far is on the stream."""
        deadline = time.monotonic() + timeout
        lane = self.lane.drain(timeout)
        with self._idle:
            while (self._queue or self._inflight) and time.monotonic() < deadline:
                self._idle.wait(0.05)
            return lane and not (self._queue or self._inflight)

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._closing.set()
        self._thread.join(timeout)
        self.lane.close(timeout)

    def _loop(self) -> None:
        name_os_thread("esper-telemetry")
        while not (self._closing.is_set() and not self._queue):
            with self._idle:
                batch = self._take()
                self._inflight = bool(batch)
                if not batch:
                    self._idle.notify_all()
            if not batch:
                self._closing.wait(self._flush_s)
                continue
            # Lane packets emitted before this batch land first (workers/lane.py),
            # however long Redis takes to come back.
            while not self.lane.drain(1.0) and self.lane.alive:
                pass
            self._send(batch)
            with self._idle:
                self._inflight = False
                self._idle.notify_all()
            if len(batch) < self._batch:
                # Let packets accumulate: one pipeline per period, not per packet.
                self._closing.wait(self._flush_s)

    def _report_lane(self, ts: float, packet: dict[str, Any]) -> None:
        """The lane's counters as packets on the bulk path, ahead of `packet`
        (never after it: it may be the run's final state)."""
        self._report_at = ts
        sent, demoted, dropped, depth = self.lane.report()
        step, epoch = packet.get("step"), packet.get("epoch")
        for name, value in (
            ("oona.emergency.lane_total", sent),
            ("oona.emergency.demoted_total", demoted),
            ("oona.emergency.dropped_total", dropped),
            ("oona.emergency.queue_depth", depth),
        ):
            self._queue.append(
                (
                    ts,
                    {
                        "kind": "metric",
                        "name": name,
                        "value": float(value),
                        "step": step,
                        "epoch": epoch,
                        "level": "info",
                        "attrs": {},
                    },
                )
            )

    def _take(self) -> list[tuple[float, dict[str, Any]]]:
        batch: list[tuple[float, dict[str, Any]]] = []
        while self._queue and len(batch) < self._batch:
            batch.append(self._queue[0])
            self._queue.popleft()
        return batch

    def _send(self, batch: list[tuple[float, dict[str, Any]]]) -> None:
        entries = [self._entry(ts, packet) for ts, packet in batch]
        if not written_until_refused(
            lambda: self._xadd(entries), "telemetry pipeline", log, first_s=0.05
        ):
            self.dropped += len(entries)
            return
        self.sent += len(entries)

    def _xadd(self, entries: list[dict[str, str]]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for entry in entries:
            pipe.xadd(
                self.stream,
                entry,  # type: ignore[arg-type]  # redis-py: dict is invariant
                maxlen=self._maxlen,
                approximate=True,
            )
        pipe.execute()

    def _entry(self, ts: float, packet: dict[str, Any]) -> dict[str, str]:
        body = dict(packet)
        body["run_id"] = self.run_id
        body["ts"] = datetime.fromtimestamp(ts, UTC).isoformat()
        return {DATA_FIELD: json.dumps(body, default=str)}
