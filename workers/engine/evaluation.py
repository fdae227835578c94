"""Validation: the loss and accuracy of the model over the validation set,
each rank over its share and summed over the ranks (one read back)."""

import torch

from workers.engine.collective import Collective
from workers.engine.forward import Forward
from workers.engine.tasks import Task


@torch.no_grad()
def evaluate(
    fw: Forward, task: Task, batch: int, collective: Collective
) -> tuple[float, float]:
    """Validation loss and accuracy (the model in eval mode meanwhile)."""
    model = fw.model
    model.eval()
    try:
        x, y = collective.shard(task.val_x), collective.shard(task.val_y)
        sums = torch.zeros(3, device=fw.device, dtype=torch.float64)
        with fw.precision():
            for start in range(0, x.shape[0], batch):
                logits = model(x[start : start + batch])
                yb = y[start : start + batch]
                sums[0] += fw.loss_fn(logits, yb).double() * yb.shape[0]
                sums[1] += (logits.argmax(dim=1) == yb).sum()
        sums[2] = x.shape[0]
        loss, correct, n = collective.all_reduce(sums).tolist()  # one sync
        return loss / max(1.0, n), correct / max(1.0, n)
    finally:
        model.train()
