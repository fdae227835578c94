"""Every Prometheus series of the gateway, declared once (Nissa).

Names follow esper_<subsystem>_<thing>_<unit>; no run ids as labels. The fleet
gauges (runs and workers by state) are refreshed from the database by every
gateway replica, so aggregate them with max(), not sum(), across replicas.
"""

from prometheus_client import Counter, Gauge, Histogram

from api_schemas.enums import (
    CommandState,
    CommandType,
    RejectionReason,
    RunState,
    WorkerState,
)

# Fleet (refreshed from the database by app.workers.reaper on every sweep).
RUNS_BY_STATE = Gauge("esper_runs", "Runs by state.", ["state"])
WORKERS_BY_STATE = Gauge("esper_workers", "Workers by state.", ["state"])
WORKERS_LOST_TOTAL = Counter(
    "esper_workers_lost_total", "Workers whose liveness key expired."
)
# Runs (app.workers.reaper and app.runs.events).
RUNS_REQUEUED_TOTAL = Counter(
    "esper_runs_requeued_total",
    "Runs put back in the queue to resume after losing their worker.",
)
EVENTS_FENCED_TOTAL = Counter(
    "esper_events_fenced_total",
    "Worker events refused because they came from an earlier attempt of the run.",
    ["type"],
)

# Commands (app.commands.acks on every first ack).
COMMANDS_TOTAL = Counter(
    "esper_commands_total", "Commands by type and outcome.", ["type", "outcome"]
)
COMMAND_REJECTIONS_TOTAL = Counter(
    "esper_command_rejections_total", "Rejected commands by reason.", ["reason"]
)
COMMAND_ACK_SECONDS = Histogram(
    "esper_command_ack_seconds",
    "Issue to worker ack.",
    ["type"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HALT_SECONDS = Histogram(
    "esper_halt_seconds",
    "emergency_halt issue to the run's halted state.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# Telemetry fan-out (app.telemetry.hub / ws) and history (persister).
WS_CLIENTS = Gauge("esper_ws_clients", "Connected WebSocket clients.", ["stream"])
WS_FEEDS = Gauge(
    "esper_ws_feeds",
    "Streams this gateway reads for its clients "
    "(one reader each, shared by all of a stream's clients).",
)
PACKETS_IN_TOTAL = Counter(
    "esper_telemetry_packets_in_total", "Telemetry packets read from Redis."
)
PACKETS_OUT_TOTAL = Counter(
    "esper_telemetry_packets_out_total", "Telemetry frames sent to WebSocket clients."
)
PACKETS_DROPPED_TOTAL = Counter(
    "esper_telemetry_packets_dropped_total",
    "Frames not delivered (slow or closed clients).",
)
SLOW_CLIENT_CLOSES_TOTAL = Counter(
    "esper_ws_slow_client_closes_total", "WebSocket clients closed with 4408."
)
REPLAY_GAPS_TOTAL = Counter(
    "esper_telemetry_replay_gaps_total",
    "Resumes that began with a telemetry.gap event.",
)
HISTORY_ROWS_TOTAL = Counter(
    "esper_telemetry_history_rows_total",
    "Telemetry packets written to the history table.",
)
HISTORY_PRUNED_TOTAL = Counter(
    "esper_telemetry_history_pruned_total", "History rows deleted by retention."
)
# The emergency lane's relay to /ws/fleet (app.telemetry.emergency); the
# workers' own lane series (admitted, demoted, dropped, queue depth) are
# esper_oona_emergency_* on their /metrics.
EMERGENCY_RELAYED_TOTAL = Counter(
    "esper_emergency_relayed_total",
    "Emergency-lane packets relayed to the fleet stream (/ws/fleet).",
)
EMERGENCY_MALFORMED_TOTAL = Counter(
    "esper_emergency_malformed_total",
    "Emergency-lane entries without a packet, acked and skipped (the run's "
    "stream still holds the packet).",
)
EMERGENCY_BACKLOG = Gauge(
    "esper_emergency_backlog",
    "Emergency-lane packets no gateway has read yet (after this gateway's last relay).",
)
EMERGENCY_RELAY_SECONDS = Histogram(
    "esper_emergency_relay_seconds",
    "From the worker's write on the emergency lane to this gateway's read.",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)

# Bus health.
OUTBOX_BACKLOG = Gauge(
    "esper_outbox_backlog",
    "Bus messages committed but not yet on Redis (outbox rows, pending commands).",
)
LOOP_LAG_SECONDS = Histogram(
    "esper_gateway_loop_lag_seconds",
    "How late the gateway's event loop woke a timer: time a request waited for "
    "the loop (long callbacks, a starved process).",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1),
)
# API keys (app.deps and app.keys.cache, on every authenticated request).
AUTH_TOTAL = Counter(
    "esper_auth_total",
    "Authentications by outcome: `held` (the gateway's key cache), `looked_up` "
    "(the database), `rejected` (no token, or an unknown or revoked one).",
    ["outcome"],
)
# Bound once: they are counted on every request (and so exist from the start).
AUTH_HELD = AUTH_TOTAL.labels("held")
AUTH_LOOKED_UP = AUTH_TOTAL.labels("looked_up")
AUTH_REJECTED = AUTH_TOTAL.labels("rejected")
EVENT_CONSUMER_LAG = Gauge(
    "esper_event_consumer_lag_seconds",
    "Age of the newest event when the gateway applied it.",
)


# Reasons a worker gives when it rejects a command; others still count, they
# just start unseen. (A hand-kept list here had `replayed_nonce` for the
# worker's `nonce_replayed`, and no `wrong_run`.)
KNOWN_REJECTION_REASONS = tuple(reason.value for reason in RejectionReason)


def _zero_series() -> None:
    """Create the known label sets at 0, so dashboards and alerts see a series
    (and rate() a starting point) before the first event of each kind."""
    for state in RunState:
        RUNS_BY_STATE.labels(state.value)
    for worker_state in WorkerState:
        WORKERS_BY_STATE.labels(worker_state.value)
    for kind in CommandType:
        COMMAND_ACK_SECONDS.labels(kind.value)
        for outcome in (
            CommandState.applied,
            CommandState.rejected,
            CommandState.expired,
        ):
            COMMANDS_TOTAL.labels(kind.value, outcome.value)
    for reason in KNOWN_REJECTION_REASONS:
        COMMAND_REJECTIONS_TOTAL.labels(reason)
    for stream in ("runs", "fleet"):
        WS_CLIENTS.labels(stream)


_zero_series()
