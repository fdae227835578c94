"""Host networks with named slots (`block0..block{depth-1}`), one after each block.

Each host records `kind` and `args`, so a model bundle builds it again
(workers/engine/bundle.py: HOSTS). A slot's shape is one sample's activation
there: (width,) for an MLP, (C, H, W) for a 2-D CNN, (C, L) for a 1-D CNN."""

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


class Conv1DHost(nn.Module):
    """1-D Conv-BN-ReLU blocks (pooling between them), a slot after each, then a
    global average pool over the length and a linear head. Input (N, C, L), or
    (N, L) for one channel: a task then feeds the same data to this host and
    to an MLP host."""

    kind = "cnn1d"

    def __init__(
        self, in_ch: int, width: int, depth: int, classes: int, length: int = 40
    ) -> None:
        super().__init__()
        self.args = dict(
            in_ch=in_ch, width=width, depth=depth, classes=classes, length=length
        )
        blocks, slots, ch = [], [], in_ch
        for i in range(depth):
            layers: list[nn.Module] = [
                nn.Conv1d(ch, width, 3, padding=1, bias=False),
                nn.BatchNorm1d(width),
                nn.ReLU(),
            ]
            # Pooling stops while the sequence is short, so deep hosts still
            # have a length to convolve over.
            if i < depth - 1 and length >= 8:
                layers.append(nn.MaxPool1d(2))
                length //= 2
            blocks.append(nn.Sequential(*layers))
            slots.append(SeedSlot(f"block{i}", (width, length)))
            ch = width
        self.blocks = nn.ModuleList(blocks)
        self.slots = nn.ModuleList(slots)
        self.head = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        for block, slot in zip(self.blocks, self.slots, strict=True):
            x = slot(block(x))
        out: Tensor = self.head(x.mean(dim=2))
        return out
