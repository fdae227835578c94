import torch

from api_schemas.enums import SeedStage
from workers.engine.blueprints import build_seed
from workers.engine.hosts import MLPHost
from workers.engine.seeds.isolation import (
    IsolationMonitor,
    IsolationSample,
    straight_through,
)
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


def test_isolated_seed_learns_a_bounded_step_along_the_gradient() -> None:
    """Open loop, the straight-through gradient never changes as the seed
    learns, so a seed following it drifts without bound (and hurts once blended
    in full). The proximal step settles where the seed's output is `step` RMS
    of the activation away from it, in the direction that lowers the loss."""
    torch.manual_seed(0)
    h = torch.randn(64, 16)
    target = torch.randn(64, 16)
    out = torch.zeros_like(h, requires_grad=True)  # the seed's output, learnt
    with torch.no_grad():
        out.copy_(h)  # starts where it changes nothing (its anchor)
    optimizer = torch.optim.SGD([out], lr=0.5)
    step = 0.1
    for _ in range(400):
        optimizer.zero_grad()
        y = straight_through(h, out, h, step)
        assert torch.equal(y.detach(), h)  # the host never sees the seed
        loss = (y - target).pow(2).mean()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    moved = (out.detach() - h).pow(2).mean().sqrt() / h.pow(2).mean().sqrt()
    assert abs(float(moved) - step) < 0.02  # bounded: not drifting away
    downhill = -(h - target)  # the loss gradient's opposite at h
    cosine = torch.nn.functional.cosine_similarity(
        (out.detach() - h).flatten(), downhill.flatten(), dim=0
    )
    assert float(cosine) > 0.99
