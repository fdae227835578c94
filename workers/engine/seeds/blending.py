"""Blending a seed into the host: the alpha ramp and the four modes."""

import math

import torch
from torch import Tensor

from api_schemas.enums import BlendMode


def alpha_ramp(step: int, blend_steps: int, temperature: float = 2.0) -> float:
    """Tanh-shaped ramp: exactly 0 at step 0 and exactly 1 at `blend_steps`.

    The temperature sets how S-shaped it is; normalising by tanh(temperature)
    pins both ends so G3 can test for alpha == 1.
    """
    if step <= 0:
        return 0.0
    if step >= blend_steps:
        return 1.0
    x = 2.0 * step / blend_steps - 1.0
    edge = math.tanh(temperature)
    return (math.tanh(temperature * x) + edge) / (2.0 * edge)


def confidence_gate(h: Tensor) -> Tensor:
    """Per-sample weight in [0, 1]: 1 - (top1 - top2) of softmax over features.

    The slot sees activations, not the final logits, so it reads the activation's
    channel scores as logits (image and sequence activations are averaged over
    their spatial dimensions first):
    a sample the host is unsure about gets more of the seed.
    """
    scores = h.flatten(2).mean(dim=2) if h.dim() > 2 else h
    if scores.shape[1] < 2:
        return torch.ones(scores.shape[0], device=h.device, dtype=h.dtype)
    top2 = torch.topk(scores.softmax(dim=1), 2, dim=1).values
    return 1.0 - (top2[:, 0] - top2[:, 1])


def _per_channel(weight: Tensor, like: Tensor) -> Tensor:
    """Shape a per-sample or per-channel weight to broadcast against `like`."""
    return weight.reshape(weight.shape + (1,) * (like.dim() - weight.dim()))


def blend(
    mode: BlendMode,
    host: Tensor,
    seed: Tensor,
    alpha: float,
    channel_scale: Tensor | None = None,
) -> Tensor:
    """Mix the seed's output into the host activation at ramp value `alpha`."""
    if mode is BlendMode.residual:
        return host + alpha * seed
    if mode is BlendMode.channel:
        if channel_scale is None:
            raise ValueError("channel blending needs a per-channel scale")
        a = (alpha * channel_scale).clamp(0.0, 1.0)
        a = a.reshape((1, -1) + (1,) * (host.dim() - 2))
        return a * seed + (1.0 - a) * host
    if mode is BlendMode.confidence:
        a = _per_channel(alpha * confidence_gate(host.detach()), host)
        return a * seed + (1.0 - a) * host
    return alpha * seed + (1.0 - alpha) * host
