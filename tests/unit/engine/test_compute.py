"""Compute accounting (workers/engine/compute.py): a step's FLOPs against the
analytic count of its products, a training seed's own forward and backward,
measuring once per architecture, and the cumulative count of real runs through
checkpoints, resume and rollback."""

import math
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from api_schemas.enums import SeedStage
from tests.unit.engine.helpers import Script, run, spec, trainer
from workers.distributed import DistributedRun
from workers.engine.blueprints import build_seed
from workers.engine.compute import (
    STEP_FLOPS,
    TRAIN_FLOPS,
    ComputeMeter,
    StepCost,
    measure,
)
from workers.engine.hosts import CNNHost, Conv1DHost, MLPHost
from workers.engine.runtime import compile_host
from workers.engine.seeds.slot import SeedInfo, SeedSlot, SeedWrapper, find_slots
from workers.engine.telemetry import Telemetry
from workers.engine.trainer import Trainer

S = SeedStage


def linear_flops(batch: int, fan_in: int, fan_out: int, input_grad: bool) -> int:
    """One linear layer's training FLOPs: the forward product 2·batch·in·out,
    the weight's gradient as much again, the input's gradient (only where
    something below needs it) as much again; biases are elementwise, free."""
    product = 2 * batch * fan_in * fan_out
    return product * (3 if input_grad else 2)


def batch_of(n: int, features: int) -> Tensor:
    return torch.randn(n, features)


def test_an_mlps_step_is_the_analytic_count_of_its_products() -> None:
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 10))
    x = batch_of(8, 20)
    expected = linear_flops(8, 20, 32, input_grad=False) + linear_flops(
        8, 32, 10, input_grad=True
    )
    assert measure(model, x, backward=True) == expected
    forward = 2 * 8 * (20 * 32 + 32 * 10)
    assert measure(model, x, backward=False) == forward


def test_measuring_leaves_no_trace_on_grads_buffers_or_rng() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 3)
    )
    x = batch_of(4, 6)
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    rng = torch.get_rng_state()
    assert measure(model, x, backward=True) > 0
    assert all(p.grad is None for p in model.parameters())
    for name, buffer in model.named_buffers():
        assert torch.equal(buffer, buffers[name]), name
    assert torch.equal(torch.get_rng_state(), rng)


class ReadsAValue(nn.Module):
    """A forward that reads a number back, which no meta tensor can give."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(5, 4)
        self.norm = nn.BatchNorm1d(4)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: Tensor) -> Tensor:
        h = self.drop(self.norm(self.layer(x)))
        out: Tensor = h * 2.0 if float(h.abs().sum().item()) > 0 else h
        return out


def test_a_forward_that_reads_values_is_measured_on_its_device() -> None:
    model = ReadsAValue()
    x = batch_of(6, 5)
    weight = model.layer.weight.detach().clone()
    norm = model.norm
    assert norm.running_mean is not None and norm.num_batches_tracked is not None
    stats = norm.running_mean.clone()
    rng = torch.get_rng_state()
    flops = measure(model, x, backward=True)
    assert flops == linear_flops(6, 5, 4, input_grad=False)
    assert model.layer.weight.grad is None
    assert torch.equal(model.layer.weight, weight)
    assert torch.equal(norm.running_mean, stats)
    assert int(norm.num_batches_tracked) == 0
    assert torch.equal(torch.get_rng_state(), rng)


def step_cost(model: nn.Module, x: Tensor) -> StepCost:
    return ComputeMeter(Telemetry(lambda packet: None)).cost(
        model, find_slots(model), x
    )


def plant(slot: SeedSlot, module: nn.Module, stage: SeedStage) -> None:
    """A seed in the slot at `stage`, through the lifecycle's legal moves."""
    slot.set_stage(S.DORMANT)
    slot.set_stage(S.GERMINATED)
    slot.info = SeedInfo(f"seed-{slot.name}", "linear", germinated_step=0)
    slot.attach(SeedWrapper(module, slot.channels))
    path = [S.TRAINING, S.BLENDING, S.SHADOWING, S.PROBATIONARY, S.FOSSILIZED]
    for step in path[: path.index(stage) + 1] if stage in path else []:
        slot.set_stage(step)


def host_with_seed(stage: SeedStage) -> tuple[MLPHost, SeedSlot]:
    """MLPHost 6 -> 16 -> 16 -> 3 with a one-linear seed in block1 at `stage`."""
    model = MLPHost(6, 16, 2, 3)
    slot = find_slots(model)["block1"]
    plant(slot, nn.Linear(16, 16), stage)
    return model, slot


def host_flops(batch: int) -> int:
    return (
        linear_flops(batch, 6, 16, input_grad=False)
        + linear_flops(batch, 16, 16, input_grad=True)
        + linear_flops(batch, 16, 3, input_grad=True)
    )


def test_a_training_seed_adds_its_own_forward_and_backward_only() -> None:
    model, slot = host_with_seed(S.TRAINING)
    x = batch_of(8, 6)
    cost = step_cost(model, x)
    # Isolated: the seed reads the detached activation, so its backward makes
    # its weight's gradient and nothing for the host below it.
    seed = linear_flops(8, 16, 16, input_grad=False)
    assert cost.host == host_flops(8)
    assert [(s.slot, s.stage, s.flops) for s in cost.seeds] == [
        ("block1", "TRAINING", seed)
    ]
    assert cost.total == cost.host + seed
    # G2's probe: one forward with the seed in full (host and seed forwards).
    host_forward = 2 * 8 * (6 * 16 + 16 * 16 + 16 * 3)
    assert cost.probe == host_forward + 2 * 8 * 16 * 16
    assert slot.stage is S.TRAINING and not slot.bypass and not slot.force_full


def test_a_blended_seed_is_part_of_the_model_and_a_germinated_one_is_free() -> None:
    x = batch_of(8, 6)
    model, _ = host_with_seed(S.BLENDING)
    blended = step_cost(model, x)
    # Blended, the host's gradient flows through the seed to the block below.
    seed = linear_flops(8, 16, 16, input_grad=True)
    assert blended.total == host_flops(8) + seed and blended.probe == 0
    assert [s.flops for s in blended.seeds] == [seed]
    model, _ = host_with_seed(S.GERMINATED)
    germinated = step_cost(model, x)
    assert germinated.total == germinated.host == host_flops(8)
    assert germinated.seeds == ()


def test_the_meter_measures_once_per_architecture_and_batch() -> None:
    packets: list[dict[str, Any]] = []
    meter = ComputeMeter(Telemetry(packets.append))
    model, slot = host_with_seed(S.GERMINATED)
    slots = find_slots(model)
    x = batch_of(8, 6)
    flops, measuring_s = meter.step(model, slots, x)
    assert flops == host_flops(8) and measuring_s > 0.0
    for _ in range(5):
        assert meter.step(model, slots, x) == (host_flops(8), 0.0)
    meter.invalidate()  # told of a change that changed nothing: cached
    meter.cost(model, slots, x)
    assert meter.measured == 1
    short = batch_of(3, 6)
    assert meter.cost(model, slots, short).total == host_flops(3)
    assert meter.cost(model, slots, x).total == host_flops(8)
    assert meter.measured == 2
    slot.set_stage(S.TRAINING)
    meter.invalidate()
    seed = linear_flops(8, 16, 16, input_grad=False)
    assert meter.cost(model, slots, x).total == host_flops(8) + seed
    assert meter.measured == 3  # the seed alone, isolated
    slot.set_stage(S.BLENDING)
    meter.invalidate()
    blended = linear_flops(8, 16, 16, input_grad=True)
    assert meter.cost(model, slots, x).total == host_flops(8) + blended
    assert meter.measured == 4  # the seed alone, blended
    slot.set_stage(S.SHADOWING)  # runs as it did: nothing to measure
    meter.invalidate()
    assert meter.cost(model, slots, x).seeds[0].stage == "SHADOWING"
    assert meter.measured == 4
    assert [p["value"] for p in packets if p["name"] == STEP_FLOPS] == [
        host_flops(8),
        host_flops(3),
        host_flops(8) + seed,
        host_flops(8) + blended,
        host_flops(8) + blended,
    ]


SEEDED_HOSTS = [
    (MLPHost(6, 16, 2, 3), (8, 6), ("residual_mlp", "low_rank")),
    (CNNHost(3, 8, 2, 4, size=8), (4, 3, 8, 8), ("conv3x3", "squeeze_excite")),
    (Conv1DHost(1, 8, 2, 4, length=16), (4, 1, 16), ("conv1d", "low_rank")),
]


@pytest.mark.parametrize(("host", "shape", "blueprints"), SEEDED_HOSTS)
def test_the_composed_step_is_what_the_whole_model_runs(
    host: nn.Module, shape: tuple[int, ...], blueprints: tuple[str, str]
) -> None:
    """The meter adds the host's pass and each seed's, measured alone; the
    whole model, measured as the training step and G2's probe run it,
    counts the same, a TRAINING seed beside a blended one included."""
    x = torch.randn(*shape)
    first, second = find_slots(host).values()
    for slot, blueprint, stage in zip(
        (first, second), blueprints, (S.TRAINING, S.BLENDING), strict=True
    ):
        plant(slot, build_seed(blueprint, slot.shape, "cpu").module.body, stage)
    cost = step_cost(host, x)
    assert cost.total == measure(host, x, backward=True)
    assert all(seed.flops > 0 for seed in cost.seeds)
    first.force_full = True
    try:
        assert cost.probe == measure(host, x, backward=False)
    finally:
        first.force_full = False


def test_measuring_is_not_the_steps_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """G4 and the policy read step times: a measurement (tens of ms, about a
    second for a process's first) must not show in them."""
    measure_slowly = ComputeMeter.cost

    def slow(meter: ComputeMeter, *args: Any) -> Any:
        time.sleep(0.5)
        return measure_slowly(meter, *args)

    monkeypatch.setattr(ComputeMeter, "cost", slow)
    script = Script()
    _, outcome = run(script, spec(epochs=1, max_steps=3), tmp_path)
    assert outcome.state == "completed", outcome.error
    latencies = script.named("tolaria.step.latency_ms")
    assert [p["step"] for p in latencies] == [1, 2, 3]
    assert latencies[0]["value"] < 500.0


def static_flops(t: Trainer, epochs: int) -> int:
    """An unseeded digits run's FLOPs: every training sample once per epoch
    through the host (the count is linear in the batch)."""
    model = t.parts.model
    assert isinstance(model, MLPHost)
    args = model.args
    width, depth = args["width"], args["depth"]
    samples = t.parts.task.train_x.shape[0]
    per_sample = (
        linear_flops(1, args["in_dim"], width, input_grad=False)
        + (depth - 1) * linear_flops(1, width, width, input_grad=True)
        + linear_flops(1, width, args["classes"], input_grad=True)
    )
    return epochs * samples * per_sample


def test_a_runs_flops_in_its_result_and_at_every_epoch_end(tmp_path: Path) -> None:
    script = Script()
    t, outcome = run(script, spec(epochs=2), tmp_path)
    assert outcome.state == "completed", outcome.error
    flops = outcome.result["train_flops"]
    assert isinstance(flops, int) and flops == static_flops(t, 2)
    packets = script.named(TRAIN_FLOPS)
    validations = script.named("tolaria.validation.accuracy")
    assert [p["step"] for p in packets] == [p["step"] for p in validations]
    assert [p["value"] for p in packets] == [flops / 2, flops]
    # One measurement per batch size (the epoch's short last batch).
    assert t.compute.measured == len(script.named(STEP_FLOPS)) == 2


def test_a_trained_seed_costs_its_steps_and_probes(tmp_path: Path) -> None:
    script = Script()
    script.at(2, "seed_enable", slot="block1", blueprint="residual_mlp")
    t, outcome = run(script, spec(epochs=2), tmp_path)
    assert outcome.state == "completed", outcome.error
    breakdowns = [p["attrs"] for p in script.named(STEP_FLOPS)]
    training = [b for b in breakdowns if b["seeds"] and b["probe"] > 0]
    assert training and all(
        b["seeds"][0]["stage"] == "TRAINING" and b["seeds"][0]["flops"] > 0
        for b in training
    )
    assert outcome.result["train_flops"] > static_flops(t, 2)


def test_the_count_survives_a_resume_and_is_not_rolled_back(tmp_path: Path) -> None:
    script = Script()
    first, outcome = run(script, spec(epochs=2), tmp_path / "a")
    total = outcome.result["train_flops"]
    epoch1 = next(c for c in script.checkpoints if c.epoch == 1)
    resumed_script = Script()
    resumed = trainer(
        resumed_script, spec(epochs=2), tmp_path / "b", resume_from=epoch1.path
    )
    again = resumed.run()
    assert again.state == "completed", again.error
    assert again.result["train_flops"] == total
    assert [p["value"] for p in resumed_script.named(TRAIN_FLOPS)] == [total]
    # A rollback restores the model, not the compute spent since then.
    rolled = Script()
    cid = rolled.at(30, "rollback", checkpoint_id="ckpt-000000023")
    _, outcome = run(rolled, spec(epochs=2), tmp_path / "c")
    assert rolled.ack_for(cid)[0] == "applied"
    assert outcome.result["train_flops"] == total == static_flops(first, 2)
    assert math.isclose(rolled.named(TRAIN_FLOPS)[-1]["value"], total)


def test_ranks_count_the_global_batch_as_one_device_does(tmp_path: Path) -> None:
    """Each of 2 gloo ranks trains on half of every batch and counts the
    whole batch: the run's figure, the same as the one-device run's."""
    one, outcome = run(Script(), spec(epochs=2), tmp_path / "one")
    script = Script()
    ranks = DistributedRun(
        spec(epochs=2, devices=2), script.hooks, run_id="ddp", checkpoint_dir=tmp_path
    )
    spread = ranks.run()
    assert spread.state == "completed", spread.error
    assert spread.result["train_flops"] == outcome.result["train_flops"]
    assert spread.result["train_flops"] == static_flops(one, 2)
    total = outcome.result["train_flops"]
    assert [p["value"] for p in script.named(TRAIN_FLOPS)] == [total / 2, total]


@pytest.mark.filterwarnings("ignore::UserWarning")  # dynamo's tracing warns
def test_a_compiled_host_is_measured_eagerly_without_compiling() -> None:
    import torch._dynamo

    graphs: list[int] = []

    def backend(gm: torch.fx.GraphModule, inputs: list[Tensor]) -> Any:
        graphs.append(len(gm.graph.nodes))
        return gm.forward

    torch._dynamo.reset()
    host, x = MLPHost(6, 16, 2, 3), batch_of(8, 6)
    compile_host(host, backend=backend)
    host(x)
    compiled = len(graphs)
    assert compiled > 0
    assert measure(host, x, backward=True) == host_flops(8)
    assert len(graphs) == compiled  # no graph for the meta shapes
    assert "forward" in host.blocks[0].__dict__  # still compiled
