"""The peer: GroMo's GrowingMLP grown with its own TINY method, side by side.

GroMo (PyPI `gromo` 0.1.0) grows hidden neurons of a sequential MLP from
second-order statistics of the loss gradient (TINY: "Growing Tiny Networks:
Spotting Expressivity Bottlenecks and Fixing Them Optimally"). It starts from
the task's small MLP (same depth, ReLU, same data, batch size, Adam learning
rate and epochs as the engine's runs) and grows until it has the parameter
count of the static final-size model, in growth steps spread over the first
third of training, then trains on. Its training FLOPs, the growth steps'
statistics and line search included, are counted with FlopCounterMode.
"""

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from experiments.growth.flops import StepFlops, counted
from experiments.growth.record import CurvePoint, RunRecord
from experiments.growth.runner import Job
from workers.engine.tasks import Task, load_task

STAT_SAMPLES = 512  # samples whose gradient statistics decide one growth step
GAMMAS = (0.0, 0.1, 0.3, 1.0, 3.0)  # GroMo's scaling-factor line search
GROWTH_STEPS = 12  # growth opportunities within the first third of training
# TINY's hyper-parameters, as GroMo's compute_optimal_updates documents them.
TINY = {
    "compute_delta": False,
    "use_covariance": True,
    "alpha_zero": False,
    "omega_zero": False,
    "use_projection": True,
    "ignore_singular_values": False,
}


@dataclass
class Schedule:
    """When the peer may grow and how far."""

    every: int  # steps between growth steps
    last: int  # no growth after this step
    target_params: int


def run_gromo(job: Job, target_params: int) -> RunRecord:
    """Train the GroMo peer for one RNG seed; `job.width` is the small width."""
    from gromo.containers.growing_mlp import GrowingMLP

    torch.manual_seed(job.seed)
    task = load_task(job.plan.task, job.plan.model(job.width), job.seed, _CPU)
    # MLPHost records its constructor's arguments: in_dim, width, depth, classes.
    args: dict[str, int] = dict(getattr(task.host, "args", {}))
    model = GrowingMLP(
        args["in_dim"], args["classes"], job.width, args["depth"], nn.ReLU()
    )
    steps_per_epoch = math.ceil(len(task.train_x) / job.plan.batch_size)
    total = steps_per_epoch * job.epochs
    every = max(1, total // (3 * GROWTH_STEPS))
    schedule = Schedule(every, total // 3, target_params)
    started = time.perf_counter()
    with warnings.catch_warnings():
        # GroMo warns on every pseudo-inverse it takes; that is its normal path.
        warnings.simplefilter("ignore")
        trainer = _PeerTrainer(model, task, job, schedule)
        curve = trainer.train()
    return RunRecord(
        task=job.plan.name,
        config=job.config,
        seed=job.seed,
        width=job.width,
        val_acc=curve[-1].val_acc,
        params=_params(model),
        train_flops=trainer.flops,
        wall_s=time.perf_counter() - started,
        curve=curve,
        notes={"growth_steps": trainer.growths, "growth_flops": trainer.growth_flops},
    )


_CPU = torch.device("cpu")


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class _PeerTrainer:
    """A plain loop: Adam, shuffled batches, validation at each epoch end."""

    # GroMo's containers are untyped; `model` is a GrowingMLP.
    def __init__(self, model: Any, task: Task, job: Job, when: Schedule) -> None:
        self.model, self.task, self.job, self.when = model, task, job, when
        self.optimizer = self._adam()
        self.step_flops = StepFlops()
        self.flops = self.growth_flops = self.step = 0
        self.growths: list[dict[str, int]] = []

    def _adam(self) -> torch.optim.Optimizer:
        # GroMo replaces the grown layers' parameters, so Adam starts afresh
        # after each growth step (as GroMo's own examples do).
        return torch.optim.Adam(self.model.parameters(), lr=self.job.plan.learning_rate)

    def train(self) -> list[CurvePoint]:
        curve = []
        for epoch in range(1, self.job.epochs + 1):
            order = torch.randperm(len(self.task.train_x))
            for index in torch.split(order, self.job.plan.batch_size):
                self._step(self.task.train_x[index], self.task.train_y[index])
            acc = self._val_acc()
            curve.append(
                CurvePoint(self.step, epoch, self.flops, acc, _params(self.model))
            )
        return curve

    def _step(self, x: Tensor, y: Tensor) -> None:
        self.flops += self.step_flops(self.model, x, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(self.model(x), y)
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        self.step += 1
        when = self.when
        due = self.step % when.every == 0 and self.step <= when.last
        if due and _params(self.model) < when.target_params:
            self._grow()

    def _grow(self) -> None:
        before = _params(self.model)
        flops = counted(self._tiny_step)
        self.flops += flops
        self.growth_flops += flops
        self.optimizer = self._adam()
        self.growths.append(
            {"step": self.step, "params": _params(self.model), "from": before}
        )

    def _tiny_step(self) -> None:
        model = self.model
        pick = torch.randperm(len(self.task.train_x))[:STAT_SAMPLES]
        x, y = self.task.train_x[pick], self.task.train_y[pick]
        model.init_computation()
        model.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y, reduction="sum")
        loss.backward()  # type: ignore[no-untyped-call]
        model.update_computation()
        model.compute_optimal_updates(
            maximum_added_neurons=self._neurons_left(), **TINY
        )
        model.reset_computation()
        model.zero_grad(set_to_none=True)
        model.select_best_update()
        model.set_scaling_factor(self._best_gamma(x, y))
        model.apply_change()
        model.set_growing_layers()

    def _neurons_left(self) -> int:
        # One hidden neuron costs its fan-in, a bias and its fan-out; the
        # widest layer's cost bounds the step so the target is not overshot.
        layers = list(self.model.layers)
        cost = max(
            a.in_features + 1 + b.out_features
            for a, b in zip(layers, layers[1:], strict=False)
        )
        left = self.when.target_params - _params(self.model)
        return max(1, int(left // cost))

    @torch.no_grad()
    def _best_gamma(self, x: Tensor, y: Tensor) -> float:
        losses = {}
        for gamma in GAMMAS:
            self.model.set_scaling_factor(gamma)
            out = self.model.extended_forward(x)
            losses[gamma] = float(nn.functional.cross_entropy(out, y))
        return min(losses, key=losses.__getitem__)

    @torch.no_grad()
    def _val_acc(self) -> float:
        out = self.model(self.task.val_x)
        return float((out.argmax(1) == self.task.val_y).float().mean())
