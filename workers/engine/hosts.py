"""Host networks with named slots (`block0..block{depth-1}`), one after each block."""

import torch
from torch import Tensor, nn

from workers.engine.seeds.slot import SeedSlot


class MLPHost(nn.Module):
    """Linear -> ReLU blocks, each followed by a slot, then a linear head."""

    kind = "mlp"

    def __init__(self, in_dim: int, width: int, depth: int, classes: int) -> None:
        super().__init__()
        # What a model bundle records to build this host again (bundle.py).
        self.args = dict(in_dim=in_dim, width=width, depth=depth, classes=classes)
        dims = [in_dim] + [width] * depth
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(dims[i], width), nn.ReLU()) for i in range(depth)
        )
        self.slots = nn.ModuleList(
            SeedSlot(f"block{i}", (width,)) for i in range(depth)
        )
        self.head = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        for block, slot in zip(self.blocks, self.slots, strict=True):
            x = slot(block(x))
        out: Tensor = self.head(x)
        return out


class CNNHost(nn.Module):
    """Conv-BN-ReLU blocks (pooling between them), a slot after each, then a head."""

    kind = "cnn"

    def __init__(
        self, in_ch: int, width: int, depth: int, classes: int, size: int = 32
    ) -> None:
        super().__init__()
        self.args = dict(
            in_ch=in_ch, width=width, depth=depth, classes=classes, size=size
        )
        blocks, slots, ch = [], [], in_ch
        for i in range(depth):
            layers: list[nn.Module] = [
                nn.Conv2d(ch, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ]
            if i < depth - 1 and size >= 8:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            blocks.append(nn.Sequential(*layers))
            slots.append(SeedSlot(f"block{i}", (width, size, size)))
            ch = width
        self.blocks = nn.ModuleList(blocks)
        self.slots = nn.ModuleList(slots)
        self.head = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        for block, slot in zip(self.blocks, self.slots, strict=True):
            x = slot(block(x))
        out: Tensor = self.head(torch.flatten(x.mean(dim=(2, 3)), 1))
        return out
