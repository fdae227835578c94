import pytest
import torch

from api_schemas.enums import BlendMode
from workers.engine.seeds.blending import alpha_ramp, blend, confidence_gate


def test_alpha_ramp_is_monotone_from_zero_to_one() -> None:
    values = [alpha_ramp(s, 20) for s in range(0, 21)]
    assert values[0] == 0.0 and values[-1] == 1.0
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    assert values[10] == pytest.approx(0.5)
    assert alpha_ramp(5, 20) < 0.25  # tanh shape: slow start


H = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
SEED = torch.tensor([[3.0, 2.0, 1.0], [1.0, 1.0, 1.0]])


def test_convex() -> None:
    out = blend(BlendMode.convex, H, SEED, 0.25)
    torch.testing.assert_close(out, 0.25 * SEED + 0.75 * H)


def test_residual() -> None:
    out = blend(BlendMode.residual, H, SEED, 0.5)
    torch.testing.assert_close(out, H + 0.5 * SEED)


def test_channel_uses_a_per_channel_alpha() -> None:
    scale = torch.tensor([0.0, 1.0, 2.0])
    out = blend(BlendMode.channel, H, SEED, 0.5, scale)
    a = torch.tensor([0.0, 0.5, 1.0])
    torch.testing.assert_close(out, a * SEED + (1 - a) * H)


def test_channel_on_images_broadcasts_over_space() -> None:
    h, s = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
    out = blend(BlendMode.channel, h, s, 1.0, torch.tensor([0.0, 0.5, 1.0]))
    assert out[:, 0].eq(0).all() and out[:, 1].eq(0.5).all() and out[:, 2].eq(1).all()


def test_confidence_gives_unsure_samples_more_seed() -> None:
    h = torch.tensor([[10.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # sure, unsure
    gate = confidence_gate(h)
    assert gate[0] < 0.01 and gate[1] == pytest.approx(1.0)
    s = torch.full_like(h, 5.0)
    out = blend(BlendMode.confidence, h, s, 1.0)
    torch.testing.assert_close(out[1], s[1])
    assert torch.allclose(out[0], h[0], atol=0.1)
