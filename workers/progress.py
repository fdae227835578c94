"""A run's progress events: the engine's progress snapshot, as the gateway's
`progress` event (step, epoch, the metrics RunMetrics knows, seed counts), sent
only when it changed since the last one sent."""

from collections.abc import Callable
from typing import Any

from api_schemas.bus import ProgressEvent
from api_schemas.runs import RunMetrics
from workers.engine.hooks import Progress


class ProgressSender:
    def __init__(
        self,
        publish: Callable[[ProgressEvent], None],
        *,
        run_id: str,
        worker_id: str,
        attempt: int,
    ) -> None:
        self.publish = publish
        self.run_id, self.worker_id, self.attempt = run_id, worker_id, attempt
        self._last_sent: tuple[Any, ...] | None = None

    def send(self, p: Progress, force: bool = False) -> None:
        """Publish `p` unless it is the last one sent (`force`: all the same)."""
        key = (p.step, p.epoch, tuple(sorted(p.metrics.items())))
        if key == self._last_sent and not force:
            return
        self._last_sent = key
        metrics = {k: v for k, v in p.metrics.items() if k in RunMetrics.model_fields}
        self.publish(
            ProgressEvent(
                run_id=self.run_id,
                worker_id=self.worker_id,
                attempt=self.attempt,
                epoch=p.epoch,
                step=p.step,
                metrics=RunMetrics(**metrics),
                seeds=dict(p.seed_counts),
            ),
        )
