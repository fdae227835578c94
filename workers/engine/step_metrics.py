"""Tolaria's per-step metrics: emitted at once on CPU; on CUDA queued as device
tensors and read back in one batch every `sync_every` steps (with the deferred
readings such as the gradient norm), so the host never waits for the device
on an ordinary step."""

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from workers.engine.readback import Readback
from workers.engine.runtime import grad_norm_tensor
from workers.engine.telemetry import Telemetry

LOSS_HISTORY = 100_000  # steps of `StepMetrics.losses` kept (at least)
METRIC_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "step_time_ms")


@dataclass
class PendingStep:
    """A CUDA step whose figures are still on the device."""

    step: int
    loss: Tensor
    correct: Tensor | int | None  # None: no accuracy reading this step
    samples: int
    step_ms: float


class StepMetrics:
    """The newest figures of the run and the steps not yet reported."""

    def __init__(
        self,
        telemetry: Telemetry,
        *,
        deferred: bool,
        sync_every: int,
        on_loss: Callable[[float], object],
    ) -> None:
        self.tm = telemetry
        self.deferred = deferred  # CUDA: read back in batches
        self.sync_every = sync_every
        self.on_loss = on_loss  # the emergency ladder's look at a read-back loss
        self.latest: dict[str, float | None] = dict.fromkeys(METRIC_KEYS)
        # The newest per-step training losses (tests, benchmarks), bounded so a
        # long run does not grow it without end.
        self.losses: list[float] = []
        self._pending: list[PendingStep] = []
        self._readings: list[tuple[int, str, Tensor]] = []  # read at flush

    def read_back(self, *, deferred: bool, every: int) -> None:
        """How figures come back from the device (known once it is chosen)."""
        self.deferred, self.sync_every = deferred, every

    def record(
        self,
        step: int,
        loss: float | Tensor,
        correct: Tensor | int | None,
        samples: int,
        step_ms: float,
    ) -> None:
        """A finished step: reported now (a host loss) or at the next flush."""
        if isinstance(loss, Tensor):
            self._pending.append(PendingStep(step, loss, correct, samples, step_ms))
            if len(self._pending) >= self.sync_every:
                self.flush()
            return
        acc = None if correct is None else int(correct) / samples
        self._emit(step, loss, acc, step_ms)

    def flush(self) -> None:
        """Emit what is queued; on CUDA this is the one sync per N steps."""
        pending, self._pending = self._pending, []
        readings, self._readings = self._readings, []
        if not pending and not readings:
            return
        # Every step's loss, the sampled steps' correct counts, the deferred
        # readings: one stack, one read back.
        scalars: list[Tensor | float] = [p.loss for p in pending]
        scalars += [p.correct for p in pending if p.correct is not None]
        scalars += [r[2] for r in readings]
        values = iter(Readback(scalars).values())
        losses = [next(values) for _ in pending]
        hits = [None if p.correct is None else next(values) for p in pending]
        for step, name, _ in readings:
            self.tm.metric(name, next(values), step=step)
        for p, loss, hit in zip(pending, losses, hits, strict=True):
            self._emit(
                p.step, loss, None if hit is None else hit / p.samples, p.step_ms
            )
            self.on_loss(loss)

    def grad_norm(self, step: int, model: nn.Module) -> None:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if not grads:
            return
        norm = grad_norm_tensor(grads)
        if self.deferred:  # read back with the next batch of losses, not now
            self._readings.append((step, "tolaria.grad_norm", norm))
        else:
            self.tm.metric("tolaria.grad_norm", float(norm))

    def validation(self, loss: float, accuracy: float) -> None:
        self.latest["val_loss"], self.latest["val_accuracy"] = loss, accuracy
        self.tm.metric("tolaria.validation.loss", loss)
        self.tm.metric("tolaria.validation.accuracy", accuracy)

    def drop_pending(self) -> None:
        """Forget what is queued (the device is gone or its memory is freed)."""
        self._pending, self._readings = [], []

    def _emit(self, step: int, loss: float, acc: float | None, step_ms: float) -> None:
        """The step's metrics; training accuracy only on the steps that read it."""
        self.losses.append(loss)
        if len(self.losses) > 2 * LOSS_HISTORY:
            del self.losses[:-LOSS_HISTORY]
        latest = self.latest
        latest["loss"], latest["step_time_ms"] = loss, step_ms
        values = [("tolaria.training.loss", loss)]
        if acc is not None:
            latest["accuracy"] = acc
            values.append(("tolaria.training.accuracy", acc))
        # Last: its packet marks the step's end (halt-latency reads it so).
        values.append(("tolaria.step.latency_ms", step_ms))
        self.tm.step_metrics(step, values)
