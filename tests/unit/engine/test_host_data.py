"""User tasks whose training set stays in host memory (`Task(resident=False)`)."""

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from api_schemas.runs import ModelOptions
from tests.unit.engine.helpers import Script, run, spec, trainer
from workers.engine.batches import HostBatches
from workers.engine.tasks import load_task

RESIDENT = "tests.unit.engine.user_task:factory"
ON_HOST = "tests.unit.engine.user_task:host_factory"


def test_host_task_keeps_its_training_set_on_the_host() -> None:
    cpu = torch.device("cpu")
    task = load_task(ON_HOST, ModelOptions(), seed=0, device=cpu)
    assert not task.resident
    assert task.train_x.device == cpu and task.train_y.device == cpu
    assert load_task(RESIDENT, ModelOptions(), seed=0, device=cpu).resident


def test_host_task_trains_like_the_resident_one(tmp_path: Path) -> None:
    # 192 samples in batches of 50: three full batches and a short last one.
    run_spec = spec(task=ON_HOST, epochs=3, batch_size=50)
    host, outcome = run(Script(), run_spec, tmp_path / "host")
    assert outcome.state == "completed", outcome.error
    resident, outcome = run(
        Script(), run_spec.model_copy(update={"task": RESIDENT}), tmp_path / "dev"
    )
    assert outcome.state == "completed", outcome.error
    assert len(host.metrics.losses) == 3 * 4
    assert (
        host.metrics.losses == resident.metrics.losses
    )  # same permutation, same batches


def test_host_task_resumes_mid_epoch_with_the_same_order(tmp_path: Path) -> None:
    run_spec = spec(task=ON_HOST, epochs=2, batch_size=32, checkpoint_every=4)
    script = Script()
    first, outcome = run(script, run_spec, tmp_path / "a")
    assert outcome.state == "completed", outcome.error
    mid = next(c for c in script.checkpoints if c.step == 4)  # 4 of 6 batches
    resumed, outcome = run(Script(), run_spec, tmp_path / "b", resume_from=mid.path)
    assert outcome.state == "completed", outcome.error
    assert resumed.metrics.losses == first.metrics.losses[4:]


class _Recorded(HostBatches):
    """The CUDA bookkeeping (prefetch, hand-over) run on CPU with plain gathers,
    recording which copies were queued."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.cuda = True  # take the prefetching path
        self.copies: list[int] = []

    def _copy(self, index: Tensor) -> Any:
        self.copies.append(self._position[id(index)])
        return index, (self.x[index], self.y[index]), None

    def _hand_over(self, batch: Any, ready: Any) -> Any:
        return batch


def _data() -> tuple[Tensor, Tensor, list[Tensor]]:
    x = torch.arange(30.0).reshape(10, 3)
    y = torch.arange(10) * 7
    order = list(
        torch.split(torch.randperm(10, generator=torch.Generator().manual_seed(1)), 4)
    )
    return x, y, order


def test_feeder_hands_out_the_permutation_and_prefetches_the_next() -> None:
    x, y, order = _data()
    feeder = _Recorded(x, y, order, torch.device("cpu"))
    for position, index in enumerate(order):
        xb, yb = feeder.take(index)
        assert torch.equal(xb, x[index]) and torch.equal(yb, y[index])
        # This batch was the one queued ahead (the first is copied on demand)
        # and the next one is queued now, none past the end of the epoch.
        assert feeder.copies == list(range(min(position + 2, len(order))))
    assert len(order[-1]) == 2 and feeder._ahead is None


def test_feeder_starts_mid_epoch_and_survives_a_jump() -> None:
    x, y, order = _data()
    feeder = _Recorded(x, y, order, torch.device("cpu"))
    xb, _ = feeder.take(order[1])  # a resumed epoch
    assert torch.equal(xb, x[order[1]]) and feeder.copies == [1, 2]
    xb, _ = feeder.take(order[0])  # not the batch queued ahead: copied now
    assert torch.equal(xb, x[order[0]]) and feeder.copies == [1, 2, 0, 1]


def test_feeder_on_cpu_is_a_plain_gather() -> None:
    x, y, order = _data()
    feeder = HostBatches(x, y, order, torch.device("cpu"))
    for index in order:
        xb, yb = feeder.take(index)
        assert torch.equal(xb, x[index]) and torch.equal(yb, y[index])
    assert feeder._ahead is None


def test_epoch_batches_stay_on_the_host(tmp_path: Path) -> None:
    t = trainer(Script(), spec(task=ON_HOST, batch_size=50), tmp_path)
    t._setup()
    try:
        batches = t._epoch_batches()
        assert all(b.device.type == "cpu" for b in batches)
        feeder = t.parts.data.feeder
        assert feeder is not None and feeder.order is batches and len(batches) == 4
        assert torch.equal(torch.cat(batches).sort().values, torch.arange(192))
    finally:
        t._close()
