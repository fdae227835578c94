"""Telemetry publisher: the engine appends, a background thread pipelines XADDs."""

import json
import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import redis

from api_schemas.bus import DATA_FIELD, telemetry_stream
from workers.priority import name_os_thread
from workers.retry import retrying

log = logging.getLogger("esper.worker.telemetry")

# Past this many unsent packets (Redis down for long) the oldest are dropped, so
# a Redis outage cannot exhaust the worker's memory.
MAX_BACKLOG = 1_000_000


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

    def start(self) -> None:
        self._thread.start()

    def emit(self, packet: dict[str, Any]) -> None:
        """Called on the training thread: a timestamp and an append, nothing else."""
        if len(self._queue) >= MAX_BACKLOG:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append((time.time(), packet))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything emitted so far is on the stream."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while (self._queue or self._inflight) and time.monotonic() < deadline:
                self._idle.wait(0.05)
            return not (self._queue or self._inflight)

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._closing.set()
        self._thread.join(timeout)

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
            self._send(batch)
            with self._idle:
                self._inflight = False
                self._idle.notify_all()
            if len(batch) < self._batch:
                # Let packets accumulate: one pipeline per period, not per packet.
                self._closing.wait(self._flush_s)

    def _take(self) -> list[tuple[float, dict[str, Any]]]:
        batch: list[tuple[float, dict[str, Any]]] = []
        while self._queue and len(batch) < self._batch:
            batch.append(self._queue[0])
            self._queue.popleft()
        return batch

    def _send(self, batch: list[tuple[float, dict[str, Any]]]) -> None:
        entries = [self._entry(ts, packet) for ts, packet in batch]
        try:
            # Keep the batch and retry until it lands: order on the stream must
            # be preserved.
            retrying(
                lambda: self._xadd(entries),
                attempts=None,
                first_s=0.05,
                on_blip=lambda exc: log.warning(
                    "telemetry pipeline failed (%s); retrying", exc
                ),
            )
        except redis.ResponseError as exc:
            # Redis refused (e.g. out of memory): retrying cannot help, and a
            # dead publisher thread would let the queue grow without bound.
            log.error("telemetry batch of %d dropped: %s", len(entries), exc)
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
