"""The telemetry publisher on real Redis: complete, ordered, bounded, non-blocking."""

import json
import threading

from api_schemas.bus import range_reply, telemetry_stream
from tests.integration.worker.busio import Client
from workers.telemetry import TelemetryPublisher


def packet(step: int) -> dict[str, object]:
    return {
        "kind": "metric",
        "name": "tolaria.training.loss",
        "value": 1.0 / step,
        "step": step,
        "epoch": 0,
        "level": "info",
        "attrs": {},
    }


def test_every_packet_arrives_in_order_with_run_id_and_ts(bus: Client) -> None:
    publisher = TelemetryPublisher(bus, "run-a", maxlen=100_000, flush_s=0.02)
    publisher.start()
    for step in range(1, 5001):
        publisher.emit(packet(step))
    assert publisher.flush(timeout=30)
    publisher.close()
    entries = range_reply(bus.xrange(telemetry_stream("run-a")), str)
    bodies = [json.loads(fields["data"]) for _, fields in entries]
    assert [b["step"] for b in bodies] == list(range(1, 5001))
    assert all(b["run_id"] == "run-a" and b["ts"] for b in bodies)
    assert publisher.sent == 5000


def test_the_stream_is_trimmed_to_about_maxlen(bus: Client) -> None:
    publisher = TelemetryPublisher(bus, "run-b", maxlen=200)
    publisher.start()
    for step in range(1, 3001):
        publisher.emit(packet(step))
    publisher.close()
    length = bus.xlen(telemetry_stream("run-b"))
    assert 200 <= length < 1000  # MAXLEN ~ trims whole macro nodes
    newest = range_reply(bus.xrevrange(telemetry_stream("run-b"), count=1), str)
    last = json.loads(newest[0][1]["data"])
    assert last["step"] == 3000


def test_emit_does_not_wait_for_redis(bus: Client) -> None:
    """With the publisher thread held up, emits still return at once."""
    publisher = TelemetryPublisher(bus, "run-c", maxlen=1000)
    # Not started: nothing drains the queue, so an emit that waited would hang.
    done = threading.Event()

    def emit_many() -> None:
        for step in range(1, 1001):
            publisher.emit(packet(step))
        done.set()

    threading.Thread(target=emit_many, daemon=True).start()
    assert done.wait(5)
    assert bus.xlen(telemetry_stream("run-c")) == 0
    publisher.start()
    publisher.close()
    assert bus.xlen(telemetry_stream("run-c")) == 1000
