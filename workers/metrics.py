"""The worker's Prometheus series (Nissa), fed from the engine's own packets.

The runner calls `start_metrics_server(port)` once (port from
ESPER_WORKER_METRICS_PORT; 0 disables) and `observe_packet(packet)` for every
packet the engine emits. One worker trains one run at a time, so the series
carry no run id: the `worker` label of the scrape target says which run it is.
`observe_packet` is a dict lookup and one prometheus-client update (about a
microsecond); unknown names cost one failed lookup.
"""

import os
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from api_schemas.enums import SeedStage

PORT_ENV = "ESPER_WORKER_METRICS_PORT"
_MS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

STEP_SECONDS = Histogram(
    "esper_tolaria_step_latency_seconds", "Training step wall time.", buckets=_MS
)
TRAINING_LOSS = Gauge("esper_tolaria_training_loss", "Latest training loss.")
TRAINING_ACCURACY = Gauge(
    "esper_tolaria_training_accuracy", "Latest training accuracy."
)
VALIDATION_LOSS = Gauge("esper_tolaria_validation_loss", "Latest validation loss.")
VALIDATION_ACCURACY = Gauge(
    "esper_tolaria_validation_accuracy", "Latest validation accuracy."
)
SEEDS_BY_STAGE = Gauge(
    "esper_kasmina_seeds", "Seeds of the current run by stage.", ["stage"]
)
ISOLATION_VIOLATIONS = Counter(
    "esper_kasmina_isolation_violations_total",
    "Gradient isolation violations detected.",
)
RESTORE_SECONDS = Histogram(
    "esper_tolaria_rollback_restore_latency_seconds",
    "Rollback restore time.",
    buckets=_MS,
)
DEADLINE_EXCEEDED = Counter(
    "esper_tolaria_rollback_deadline_exceeded_total",
    "Rollbacks that missed their restore deadline.",
)
EMERGENCY_LEVEL = Gauge(
    "esper_tolaria_emergency_level", "Emergency level (0 normal .. highest: halted)."
)
EMERGENCY_HALTS = Counter(
    "esper_tolaria_emergency_halts_total", "Emergency halts performed."
)
TAMIYO_TIMEOUTS = Counter(
    "esper_tamiyo_timeouts_total", "Policy decisions that missed their deadline."
)
PROFILER_EXPORT_FAILURES = Counter(
    "esper_tolaria_profiler_export_failures_total",
    "Profiler traces that did not become artifacts (could not start, export or "
    "upload): one per tolaria.profiler.export_failed event.",
)
# CUDA graphs of the step (workers/engine/cuda_graphs.py): a capture takes tens
# of milliseconds (RC1's thresholds: warning 200 ms, critical 1 s), a replay's
# launch microseconds, a batch's staging copy well under RC1's 0.5 ms.
GRAPH_CAPTURE_SECONDS = Histogram(
    "esper_tolaria_graph_capture_seconds",
    "CUDA graph capture wall time (one per architecture).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GRAPH_REPLAY_SECONDS = Histogram(
    "esper_tolaria_graph_replay_seconds",
    "Host time to launch a CUDA graph replay (mean of a batch of replays).",
    buckets=(1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 0.001, 0.0025, 0.01),
)
GRAPH_STAGE_COPY_SECONDS = Histogram(
    "esper_tolaria_graph_stage_copy_seconds",
    "Device time to stage a batch into a CUDA graph's inputs (sampled mean).",
    buckets=(1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 0.001, 0.0025, 0.01),
)
GRAPH_FALLBACKS = Counter(
    "esper_tolaria_graph_fallbacks_total",
    "Runs or architectures whose step could not be captured (ran eagerly).",
)
ARTIFACT_UPLOADS = Counter(
    "esper_artifact_uploads_total",
    "Uploads to the artifact store by outcome: stored, failed, or dropped "
    "(the upload queue was full).",
    ["outcome"],
)
# The emergency lane (workers/lane.py), updated by the publisher itself.
EMERGENCY_PACKETS = Counter(
    "esper_oona_emergency_packets_total",
    "Packets at or above ESPER_EMERGENCY_THRESHOLD by outcome: lane (sent on "
    "the emergency lane), demoted (over ESPER_EMERGENCY_MAX_PER_MIN: sent on the "
    "bulk path instead), dropped (Redis refused the write).",
    ["outcome"],
)
EMERGENCY_QUEUE_DEPTH = Gauge(
    "esper_oona_emergency_queue_depth", "Packets waiting on the emergency lane."
)
for _outcome in ("stored", "failed", "dropped"):
    ARTIFACT_UPLOADS.labels(_outcome)
for _outcome in ("lane", "demoted", "dropped"):
    EMERGENCY_PACKETS.labels(_outcome)
for _stage in SeedStage:
    SEEDS_BY_STAGE.labels(_stage.value)


class _Totals:
    """Engine `*_total` packets carry the run's running total; Prometheus wants
    increments. A total lower than the last one means a new run started."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._last = 0.0

    def reset(self) -> None:
        self._last = 0.0

    def __call__(self, value: float) -> None:
        delta = value - self._last if value >= self._last else value
        self._last = value
        if delta > 0:
            self._counter.inc(delta)


def _ms(histogram: Histogram) -> Callable[[float], None]:
    return lambda value: histogram.observe(value / 1000.0)


_METRICS: dict[str, Callable[[float], None]] = {
    "tolaria.step.latency_ms": _ms(STEP_SECONDS),
    "tolaria.training.loss": TRAINING_LOSS.set,
    "tolaria.training.accuracy": TRAINING_ACCURACY.set,
    "tolaria.validation.loss": VALIDATION_LOSS.set,
    "tolaria.validation.accuracy": VALIDATION_ACCURACY.set,
    "tolaria.rollback.restore_latency_ms": _ms(RESTORE_SECONDS),
    "tolaria.rollback.deadline_exceeded_total": _Totals(DEADLINE_EXCEEDED),
    "tolaria.emergency.level": EMERGENCY_LEVEL.set,
    "tolaria.emergency.halts_total": _Totals(EMERGENCY_HALTS),
    "tolaria.timeout.tamiyo_total": _Totals(TAMIYO_TIMEOUTS),
    "kasmina.isolation.violations": _Totals(ISOLATION_VIOLATIONS),
    "tolaria.graph.capture_ms": _ms(GRAPH_CAPTURE_SECONDS),
    "tolaria.graph.replay_ms": _ms(GRAPH_REPLAY_SECONDS),
    "tolaria.graph.stage_copy_ms": _ms(GRAPH_STAGE_COPY_SECONDS),
    "tolaria.graph.fallbacks_total": _Totals(GRAPH_FALLBACKS),
}
_RUN_BOUNDARIES = frozenset({"assigned", "completed", "failed", "cancelled", "halted"})
_seed_stages: dict[str, str] = {}  # seed (id or slot) -> its current stage


def observe_packet(packet: dict[str, Any]) -> None:
    """Update the series a packet maps to; everything else is ignored."""
    kind = packet.get("kind")
    if kind == "metric":
        update = _METRICS.get(packet.get("name", ""))
        value = packet.get("value")
        if update is not None and isinstance(value, int | float):
            update(float(value))
    elif kind == "seed" and packet.get("name") == "kasmina.seed.stage":
        _seed_stage(packet)
    elif kind == "state" and packet.get("value") in _RUN_BOUNDARIES:
        _reset_run()
    elif kind == "event" and packet.get("name") == "tolaria.profiler.export_failed":
        PROFILER_EXPORT_FAILURES.inc()


def _seed_stage(packet: dict[str, Any]) -> None:
    attrs = packet.get("attrs") or {}
    seed = attrs.get("seed_id") or attrs.get("slot")
    stage = packet.get("value")
    if seed is None or not isinstance(stage, str):
        return
    previous = _seed_stages.get(seed)
    if previous == stage:
        return
    if previous is not None:
        SEEDS_BY_STAGE.labels(previous).dec()
    _seed_stages[seed] = stage
    SEEDS_BY_STAGE.labels(stage).inc()


def _reset_run() -> None:
    """A run starting or ending: seeds and running totals belong to one run."""
    for stage in set(_seed_stages.values()):
        SEEDS_BY_STAGE.labels(stage).set(0)
    _seed_stages.clear()
    for update in _METRICS.values():
        if isinstance(update, _Totals):
            update.reset()


def metrics_port() -> int:
    """ESPER_WORKER_METRICS_PORT, 0 (disabled) when unset or invalid."""
    try:
        return max(0, int(os.environ.get(PORT_ENV, "0")))
    except ValueError:
        return 0


def start_metrics_server(port: int) -> None:
    """Serve /metrics on `port` from a daemon thread; 0 disables it."""
    if port > 0:
        start_http_server(port)
