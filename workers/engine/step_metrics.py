"""Tolaria's per-step metrics, as a part of Trainer: emitted at once on CPU;
on CUDA queued as device tensors and read back in one batch every
`sync_every` steps (with the deferred readings such as the gradient norm)."""

from workers.engine.readback import Readback
from workers.engine.runtime import grad_norm_tensor

LOSS_HISTORY = 100_000  # steps of `Trainer.losses` kept (at least)


class StepMetrics:
    """Per-step metric methods of Trainer (see trainer.py)."""

    def _flush_pending(self) -> None:
        """Emit per-step metrics; on CUDA this is the one sync per N steps."""
        pending, self._pending = self._pending, []
        deferred, self._deferred = self._deferred, []
        if not pending and not deferred:
            return
        # Every step's loss, the sampled steps' correct counts, the deferred
        # readings: one stack, one read back.
        scalars = [p[1] for p in pending]
        scalars += [p[2] for p in pending if p[2] is not None]
        scalars += [d[2] for d in deferred]
        values = iter(Readback(scalars).values())
        losses = [next(values) for _ in pending]
        hits = [None if p[2] is None else next(values) for p in pending]
        for step, name, _ in deferred:
            self.tm.metric(name, next(values), step=step)
        for (step, _, _, n, step_ms), loss, hit in zip(
            pending, losses, hits, strict=True
        ):
            self._emit_step(step, loss, None if hit is None else hit / n, step_ms)
            self._loss_trouble(loss)

    def _emit_step(
        self, step: int, loss: float, acc: float | None, step_ms: float
    ) -> None:
        """The step's metrics; training accuracy only on the steps that read it."""
        self.losses.append(loss)
        if len(self.losses) > 2 * LOSS_HISTORY:
            del self.losses[:-LOSS_HISTORY]
        metrics = self.metrics
        metrics["loss"], metrics["step_time_ms"] = loss, step_ms
        values = [("tolaria.training.loss", loss)]
        if acc is not None:
            metrics["accuracy"] = acc
            values.append(("tolaria.training.accuracy", acc))
        # Last: its packet marks the step's end (halt-latency reads it so).
        values.append(("tolaria.step.latency_ms", step_ms))
        self.tm.step_metrics(step, values)

    def _emit_grad_norm(self) -> None:
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not grads:
            return
        norm = grad_norm_tensor(grads)
        if self.cuda:  # read back with the next batch of losses, not now
            self._deferred.append((self.step, "tolaria.grad_norm", norm))
        else:
            self.tm.metric("tolaria.grad_norm", float(norm))
