"""Frames, the hub's per-client queue, buckets and the worker's series."""

import asyncio
import json

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from app.telemetry.frames import is_final_state, packet_name, to_frame
from app.telemetry.history import _buckets, glob_to_like
from app.telemetry.hub import Feed, Subscriber
from app.telemetry.ws import name_matcher
from workers.metrics import observe_packet

WORKER = json.dumps({"kind": "state", "name": "run.state", "value": "completed"})
GATEWAY = '{"run_id":"r","kind":"state","name":"run.state","value":"halted"}'


def test_to_frame_splices_the_cursor_into_either_json_style() -> None:
    assert json.loads(to_frame("5-1", WORKER))["cursor"] == "5-1"
    frame = to_frame("7-0", '{"cursor":null,"kind":"metric"}')
    assert json.loads(frame) == {"cursor": "7-0", "kind": "metric"}


def test_final_state_is_detected_with_and_without_spaces() -> None:
    assert is_final_state(WORKER) and is_final_state(GATEWAY)
    assert not is_final_state(WORKER.replace("completed", "running"))
    assert not is_final_state('{"kind": "metric", "name": "state"}')
    assert packet_name(WORKER) == "run.state"


def test_subscriber_overflow_drops_backlog_and_flags_once() -> None:
    async def scenario() -> Subscriber:
        sub = Subscriber(limit=3)
        for i in range(5):
            sub.offer(f"{i}-0", "n", "f", False)
        return sub

    sub = asyncio.run(scenario())
    assert sub.overflowed.is_set() and not sub.frames


def test_dispatch_serialises_once_and_filters_by_name() -> None:
    async def scenario() -> tuple[Subscriber, Subscriber]:
        unused = Redis()  # dispatch never reads: the client never connects
        feed = Feed(unused, "k", stop_on_final=True)
        every, losses = Subscriber(10), Subscriber(10, name_matcher("*.loss"))
        feed.subscribers |= {every, losses}
        feed.dispatch(
            [
                (b"1-0", {b"data": b'{"kind":"metric","name":"a.loss"}'}),
                (b"2-0", {b"data": b'{"kind":"metric","name":"a.acc"}'}),
                (b"3-0", {b"data": GATEWAY.encode()}),
            ]
        )
        await unused.aclose()
        assert feed.last == "3-0"
        return every, losses

    every, losses = asyncio.run(scenario())
    assert [c for c, _, _ in every.frames] == ["1-0", "2-0", "3-0"]
    assert [(c, final) for c, _, final in losses.frames] == [
        ("1-0", False),
        ("3-0", True),
    ]  # the final state passes any filter
    assert every.frames[0][1] is losses.frames[0][1]  # one string, shared


def test_buckets_are_deterministic_min_max_last() -> None:
    points = [(step, float(step % 7)) for step in range(100)] + [(5, -1.0)]
    buckets = _buckets("loss", points, 4)
    assert [(b.step_start, b.step_end) for b in buckets] == [
        (0, 24),
        (25, 49),
        (50, 74),
        (75, 99),
    ]
    first = buckets[0]
    assert (first.min, first.max, first.last, first.count) == (-1.0, 6.0, -1.0, 26)
    assert buckets == _buckets("loss", points, 4)


def test_history_globs_become_like_patterns() -> None:
    assert glob_to_like("tolaria.*_ms?") == "tolaria.%\\_ms_"
    with pytest.raises(Exception, match="only"):
        glob_to_like("a[bc]")


def test_worker_packets_map_to_series() -> None:
    def value(name: str, labels: dict[str, str] | None = None) -> float:
        return REGISTRY.get_sample_value(name, labels or {}) or 0.0

    before = value("esper_kasmina_isolation_violations_total")
    observe_packet({"kind": "state", "name": "run.state", "value": "assigned"})
    for total in (1.0, 2.0, 2.0, 5.0):
        observe_packet(
            {"kind": "metric", "name": "kasmina.isolation.violations", "value": total}
        )
    assert value("esper_kasmina_isolation_violations_total") == before + 5
    observe_packet({"kind": "metric", "name": "tolaria.step.latency_ms", "value": 20.0})
    assert value("esper_tolaria_step_latency_seconds_sum") >= 0.02
    seed = {"kind": "seed", "name": "kasmina.seed.stage", "attrs": {"seed_id": "s"}}
    observe_packet({**seed, "value": "TRAINING"})
    observe_packet({**seed, "value": "BLENDING"})
    assert value("esper_kasmina_seeds", {"stage": "TRAINING"}) == 0
    assert value("esper_kasmina_seeds", {"stage": "BLENDING"}) == 1
    observe_packet({"kind": "unknown"})  # ignored
