"""The emergency lane's logic: the token bucket, and the order packets reach
the streams in (a recording stand-in for Redis; tests/integration/telemetry/
test_emergency_lane.py runs it against real Redis and a real gateway)."""

import json
import threading
import time
from typing import Any

import pytest

from api_schemas.bus import EMERGENCY_STREAM, telemetry_stream
from workers.lane import TokenBucket
from workers.telemetry import TelemetryPublisher

RUN = "run-lane"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_admits_a_burst_of_its_capacity_then_refills_at_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(60, clock)  # one a second, bursts of 60
    assert sum(bucket.take() for _ in range(100)) == 60
    clock.now += 2.5
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 3600  # a long quiet spell refills to capacity, no further
    assert sum(bucket.take() for _ in range(100)) == 60


def test_bucket_of_zero_admits_nothing_and_a_backward_clock_adds_nothing() -> None:
    clock = Clock()
    assert not TokenBucket(0, clock).take()
    bucket = TokenBucket(1, clock)
    assert bucket.take()
    clock.now -= 50
    assert not bucket.take()


class Recorder:
    """Stands in for redis.Redis: pipelines append to one log on execute.
    Bulk pipelines (transaction=False) take `bulk_s`, lane ones `lane_s`."""

    def __init__(self, bulk_s: float = 0.0, lane_s: float = 0.0) -> None:
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.bulk_s, self.lane_s = bulk_s, lane_s
        self._lock = threading.Lock()

    def pipeline(self, transaction: bool = True) -> "Pipe":
        return Pipe(self, self.lane_s if transaction else self.bulk_s)

    def stream(self, key: str) -> list[dict[str, Any]]:
        return [packet for stream, packet in self.log if stream == key]


class Pipe:
    def __init__(self, recorder: Recorder, delay: float) -> None:
        self.recorder, self.delay = recorder, delay
        self.queued: list[tuple[str, dict[str, Any]]] = []

    def xadd(self, stream: str, entry: dict[str, str], **_: Any) -> None:
        self.queued.append((stream, json.loads(entry["data"])))

    def execute(self) -> None:
        time.sleep(self.delay)
        with self.recorder._lock:
            self.recorder.log.extend(self.queued)


def bulk(step: int) -> dict[str, Any]:
    return {"kind": "metric", "name": "tolaria.training.loss", "value": 0.1,
            "step": step, "epoch": 0, "level": "info", "attrs": {}}  # fmt: skip


def critical(step: int, name: str = "tolaria.emergency.halt") -> dict[str, Any]:
    return {"kind": "event", "name": name, "value": None, "step": step,
            "epoch": 0, "level": "critical", "attrs": {}}  # fmt: skip


def publisher(recorder: Recorder, **options: Any) -> TelemetryPublisher:
    options.setdefault("batch", 100)
    options.setdefault("flush_s", 0.01)
    return TelemetryPublisher(recorder, RUN, maxlen=100_000, **options)  # type: ignore[arg-type]


def steps(packets: list[dict[str, Any]], name: str) -> list[int]:
    return [p["step"] for p in packets if p["name"] == name]


def test_critical_packets_overtake_queued_bulk_and_reach_the_lane_stream() -> None:
    recorder = Recorder(bulk_s=0.02)  # 100 packets per 20 ms: a backlog builds
    pub = publisher(recorder)
    pub.start()
    for step in range(3000):
        pub.emit(bulk(step))
    pub.emit(critical(3000))
    for step in range(3001, 3100):
        pub.emit(bulk(step))
    assert pub.flush(20)
    pub.close()
    run = recorder.stream(telemetry_stream(RUN))
    names = [p["name"] for p in run]
    at = names.index("tolaria.emergency.halt")
    # It overtook nearly all 3000 bulk packets emitted before it...
    assert at < 500, at
    # ...and none emitted after it overtook it.
    assert all(p["step"] < 3000 for p in run[:at])
    # Bulk order and completeness are untouched.
    assert steps(run, "tolaria.training.loss") == [s for s in range(3100) if s != 3000]
    lane = recorder.stream(EMERGENCY_STREAM)
    assert [p["name"] for p in lane] == ["tolaria.emergency.halt"]
    assert lane[0]["run_id"] == RUN
    assert (pub.lane.sent, pub.lane.demoted, pub.lane.dropped) == (1, 0, 0)


def test_over_the_bucket_packets_are_demoted_to_bulk_in_order_and_counted() -> None:
    recorder = Recorder()
    pub = publisher(recorder, emergency_max_per_min=3)
    pub.start()
    for step in range(10):
        pub.emit(critical(step, f"kasmina.isolation.violation.{step}"))
        pub.emit(bulk(step))
    time.sleep(LANE_REPORT_WAIT)
    pub.emit(bulk(10))  # the next emit carries the counters, ahead of itself
    assert pub.flush(10)
    pub.close()
    run = recorder.stream(telemetry_stream(RUN))
    lane = recorder.stream(EMERGENCY_STREAM)
    assert [p["step"] for p in lane] == [0, 1, 2]
    violations = [p["step"] for p in run if p["level"] == "critical"]
    assert sorted(violations) == list(range(10))  # all ten on the run's stream
    assert violations[3:] == list(range(3, 10))  # demoted ones in bulk order
    assert (pub.lane.sent, pub.lane.demoted) == (3, 7)
    reported = {p["name"]: p["value"] for p in run if p["name"].startswith("oona.")}
    assert reported["oona.emergency.lane_total"] == 3.0
    assert reported["oona.emergency.demoted_total"] == 7.0
    assert reported["oona.emergency.dropped_total"] == 0.0
    assert run[-1]["step"] == 10  # the report went ahead of the packet it rode


LANE_REPORT_WAIT = 1.05  # workers/telemetry.py LANE_REPORT_S, and a little


def test_a_slow_lane_never_lets_the_final_state_overtake_it() -> None:
    recorder = Recorder(lane_s=0.3)  # Redis slow for the lane's MULTI only
    pub = publisher(recorder)
    pub.start()
    pub.emit(bulk(0))
    pub.emit(critical(1))
    final = {"kind": "state", "name": "run.state", "value": "halted", "step": 1,
             "epoch": 0, "level": "info", "attrs": {}}  # fmt: skip
    pub.emit(final)
    assert pub.flush(10)
    pub.close()
    run = recorder.stream(telemetry_stream(RUN))
    assert [p["name"] for p in run][-1] == "run.state"
    assert "tolaria.emergency.halt" in [p["name"] for p in run]


@pytest.mark.parametrize(("threshold", "lane"), [("critical", 1), ("warning", 2)])
def test_threshold_picks_the_levels_on_the_lane(threshold: str, lane: int) -> None:
    recorder = Recorder()
    pub = publisher(recorder, emergency_threshold=threshold)
    pub.start()
    pub.emit(bulk(0))
    pub.emit({**critical(1), "level": "warning"})
    pub.emit(critical(2))
    assert pub.flush(10)
    pub.close()
    assert len(recorder.stream(EMERGENCY_STREAM)) == lane
    assert len(recorder.stream(telemetry_stream(RUN))) == 3
