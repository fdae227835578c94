import torch

from api_schemas.enums import SeedStage
from workers.engine.blueprints import build_seed
from workers.engine.hosts import MLPHost
from workers.engine.seeds.isolation import IsolationMonitor, IsolationSample
from workers.engine.seeds.slot import SeedSlot


def _host_grads(
    model: MLPHost, x: torch.Tensor, y: torch.Tensor
) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    out = model(x)
    # torch leaves Tensor.backward unannotated.
    torch.nn.functional.cross_entropy(out, y).backward()  # type: ignore[no-untyped-call]
    return {
        n: p.grad.clone()
        for n, p in model.named_parameters()
        if ".seed." not in n and p.grad is not None
    }


def test_training_seed_leaves_host_outputs_and_grads_unchanged() -> None:
    torch.manual_seed(0)
    model = MLPHost(8, 16, 2, 3)
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    with torch.no_grad():
        baseline_out = model(x)
    baseline = _host_grads(model, x, y)

    slot = model.slots[0]
    assert isinstance(slot, SeedSlot)
    slot.set_stage(SeedStage.DORMANT)
    slot.attach(build_seed("residual_mlp", (16,), "cpu", seed=1).module)
    slot.set_stage(SeedStage.GERMINATED)
    slot.set_stage(SeedStage.TRAINING)
    with torch.no_grad():
        assert torch.equal(model(x), baseline_out)
    with_seed = _host_grads(model, x, y)

    assert baseline.keys() == with_seed.keys()
    for name, grad in baseline.items():
        torch.testing.assert_close(with_seed[name], grad, atol=1e-6, rtol=0)
    seed_grads = [p.grad for p in slot.seed_parameters() if p.grad is not None]
    assert seed_grads and any(float(g.abs().sum()) > 0 for g in seed_grads)


def test_monitor_counts_violations_from_samples() -> None:
    torch.manual_seed(0)
    model = MLPHost(8, 16, 1, 3)
    slot = model.slots[0]
    assert isinstance(slot, SeedSlot)
    slot.set_stage(SeedStage.DORMANT)
    slot.attach(build_seed("low_rank", (16,), "cpu").module)
    slot.set_stage(SeedStage.GERMINATED)
    slot.set_stage(SeedStage.TRAINING)
    slot.sample_next = True
    model(torch.randn(4, 8))
    monitor = IsolationMonitor(every=10)
    assert slot.last_sample is not None
    assert monitor.record(slot.last_sample) is False
    assert monitor.record(IsolationSample(1e-3, True)) is True
    assert monitor.violations == 1 and monitor.samples == 2
    assert monitor.should_sample(20) and not monitor.should_sample(21)
