"""Esper gateway: REST + WebSocket API, bus relay, telemetry fan-out, dashboard."""
