"""Training batches from a data set kept in host memory (`Task(resident=False)`).

On CUDA each batch is gathered on the host into pinned memory, copied to the
device with `non_blocking=True` on a side stream, and the next batch's copy is
issued as soon as the current one is handed out, so it overlaps the step's
compute. Nothing here waits for the device. On CPU a batch is a plain gather.
"""

from typing import Any

import torch
from torch import Tensor

from workers.engine.tasks import Task

Batch = tuple[Tensor, Tensor]


class HostBatches:
    """Hands out one epoch's batches, in the order of `order` (CPU index tensors)."""

    def __init__(
        self, x: Tensor, y: Tensor, order: list[Tensor], device: torch.device
    ) -> None:
        self.x, self.y, self.order, self.device = x, y, order, device
        self.cuda = device.type == "cuda"
        # Position by identity: the trainer passes back the very index tensors
        # of `order`, and a resumed epoch starts part-way through it.
        self._position = {id(index): i for i, index in enumerate(order)}
        self._stream = torch.cuda.Stream(device) if self.cuda else None
        self._ahead: tuple[Tensor, Batch, torch.cuda.Event] | None = None

    def take(self, index: Tensor) -> Batch:
        """The batch for `index` on the device; queues the next batch's copy."""
        if not self.cuda:
            return self.x[index], self.y[index]
        ahead, self._ahead = self._ahead, None
        if ahead is None or ahead[0] is not index:  # first of the epoch, or a jump
            ahead = self._copy(index)
        batch = self._hand_over(*ahead[1:])
        position = self._position.get(id(index))
        if position is not None and position + 1 < len(self.order):
            self._ahead = self._copy(self.order[position + 1])
        return batch

    def _copy(self, index: Tensor) -> tuple[Tensor, Batch, torch.cuda.Event]:
        """Gather into pinned memory and queue its copy on the side stream."""
        assert self._stream is not None
        x, y = _gather_pinned(self.x, index), _gather_pinned(self.y, index)
        with torch.cuda.stream(self._stream):
            batch = (
                x.to(self.device, non_blocking=True),
                y.to(self.device, non_blocking=True),
            )
            ready = torch.cuda.Event()
            ready.record(self._stream)
        return index, batch, ready

    def _hand_over(self, batch: Batch, ready: torch.cuda.Event) -> Batch:
        consumer = torch.cuda.current_stream(self.device)
        consumer.wait_event(ready)  # the device waits, the host does not
        for t in batch:
            # Allocated on the side stream but used on the consumer's: without
            # this the allocator could hand the block to the next copy while
            # this step's kernels still read it.
            t.record_stream(consumer)
        return batch


def _gather_pinned(source: Tensor, index: Tensor) -> Tensor:
    # A fresh buffer from PyTorch's caching host allocator rather than two
    # fixed buffers: the non-blocking copy records an event on the block, and
    # the allocator reuses it only once that copy is done, so the host never
    # has to wait on an event before overwriting a staging buffer.
    out = torch.empty(
        (index.numel(), *source.shape[1:]), dtype=source.dtype, pin_memory=True
    )
    return torch.index_select(source, 0, index, out=out)


class DataOrder:
    """Which samples each step trains on: one seeded permutation per epoch,
    replayed exactly when a run resumes part-way through an epoch."""

    def __init__(self, task: Task, batch_size: int, seed: int, device: torch.device):
        self.task, self.batch_size, self.device = task, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch_start = self.generator.get_state()  # the generator at epoch start
        self.feeder: HostBatches | None = None  # host data: this epoch's copier

    def epoch_batches(self, batch_in_epoch: int) -> list[Tensor]:
        """The epoch's index batches (all of them; the loop skips those done)."""
        if batch_in_epoch == 0:
            self.epoch_start = self.generator.get_state()
        else:  # resuming mid-epoch: replay the same permutation
            self.generator.set_state(self.epoch_start)
        task = self.task
        order = torch.randperm(task.train_x.shape[0], generator=self.generator)
        if task.resident:
            return list(order.to(self.device).split(self.batch_size))
        # Host data: the indices stay on the host, where the feeder gathers.
        batches = list(order.split(self.batch_size))
        self.feeder = HostBatches(task.train_x, task.train_y, batches, self.device)
        return batches

    def batch(self, index: Tensor) -> Batch:
        if self.feeder is None:
            return self.task.train_x[index], self.task.train_y[index]
        # pinned, copied ahead on a side stream (HostBatches)
        return self.feeder.take(index)

    def state(self) -> dict[str, Tensor]:
        return {
            "data_gen": self.generator.get_state(),
            "epoch_gen": self.epoch_start,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["data_gen"].cpu())
        self.epoch_start = state["epoch_gen"].cpu()
