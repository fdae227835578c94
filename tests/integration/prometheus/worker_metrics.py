"""A stand-in worker: serves workers.metrics on a port and observes packets."""

import sys
import time
from typing import Any

from workers.metrics import observe_packet, start_metrics_server


def main(port: int) -> None:
    start_metrics_server(port)
    packets: list[dict[str, Any]] = [
        {"kind": "state", "name": "run.state", "value": "assigned"},
        {"kind": "metric", "name": "tolaria.step.latency_ms", "value": 12.5},
        {"kind": "metric", "name": "tolaria.training.loss", "value": 0.7},
        {"kind": "metric", "name": "tolaria.training.accuracy", "value": 0.6},
        {"kind": "metric", "name": "tolaria.validation.loss", "value": 0.8},
        {"kind": "metric", "name": "tolaria.validation.accuracy", "value": 0.5},
        {
            "kind": "seed",
            "name": "kasmina.seed.stage",
            "value": "TRAINING",
            "attrs": {"seed_id": "s1"},
        },
        {"kind": "metric", "name": "kasmina.isolation.violations", "value": 1.0},
        {
            "kind": "metric",
            "name": "tolaria.rollback.restore_latency_ms",
            "value": 40.0,
        },
        {
            "kind": "metric",
            "name": "tolaria.rollback.deadline_exceeded_total",
            "value": 1.0,
        },
        {"kind": "metric", "name": "tolaria.emergency.level", "value": 1.0},
        {"kind": "metric", "name": "tolaria.emergency.halts_total", "value": 1.0},
        {"kind": "metric", "name": "tolaria.timeout.tamiyo_total", "value": 2.0},
        {"kind": "metric", "name": "tolaria.graph.capture_ms", "value": 60.0},
        {"kind": "metric", "name": "tolaria.graph.replay_ms", "value": 0.02},
        {"kind": "metric", "name": "tolaria.graph.stage_copy_ms", "value": 0.01},
        {"kind": "metric", "name": "tolaria.graph.fallbacks_total", "value": 1.0},
    ]
    while True:
        for packet in packets:
            observe_packet(packet)
        time.sleep(0.2)


if __name__ == "__main__":
    main(int(sys.argv[1]))
