"""Every Prometheus series of the gateway, declared once (Nissa).

Names follow esper_<subsystem>_<thing>_<unit>; no run ids as labels.
"""

from prometheus_client import Counter, Gauge, Histogram

RUNS_BY_STATE = Gauge("esper_runs", "Runs by state.", ["state"])
WORKERS_BY_STATE = Gauge("esper_workers", "Workers by state.", ["state"])
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
WS_CLIENTS = Gauge("esper_ws_clients", "Connected WebSocket clients.", ["stream"])
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
OUTBOX_BACKLOG = Gauge("esper_outbox_backlog", "Outbox rows not yet on Redis.")
EVENT_CONSUMER_LAG = Gauge(
    "esper_event_consumer_lag_seconds",
    "Age of the newest event when the gateway applied it.",
)
WORKERS_LOST_TOTAL = Counter(
    "esper_workers_lost_total", "Workers whose liveness key expired."
)
