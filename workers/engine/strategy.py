"""How a run is spread over devices, as the object the trainer is given.

The loop (trainer.py) is written once; what differs between one device and a
DDP group of ranks is behind `Strategy`: joining and leaving the group, the
hooks the loop sees (a DDP rank's halt and commands arrive through the control
collective), a step's forward/backward, the step time every rank agrees on,
and the policy decisions rank 0 shares. `OneDevice` is the plain case;
`workers.engine.distributed.DDPStrategy` is the other.
"""

import time
from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor

from workers.engine.collective import SOLO, Collective
from workers.engine.forward import Correct, Forward, local_forward_backward
from workers.engine.hooks import Hooks
from workers.engine.policy.base import Decision, PolicyInputs
from workers.engine.state import TrainState

# (step, inputs, proposed, reviewed): a reviewed decision handed to the strategy.
Defer = Callable[[int, PolicyInputs, Decision, Decision], None]
# A decision to carry out at this step boundary, with rank 0's context of it
# ((step, inputs, proposed); None on the ranks that did not decide).
Received = tuple[Decision, tuple[int, PolicyInputs, Decision] | None]


class Strategy(Protocol):
    @property
    def collective(self) -> Collective: ...

    @property
    def decides(self) -> bool:
        """Whether this process runs the policy (rank 0 only under DDP)."""
        ...

    @property
    def defer(self) -> Defer | None:
        """Where the policy hands reviewed decisions (None: it acts at once)."""
        ...

    def join(self, device_name: str) -> None: ...

    def leave(self) -> None: ...

    def bind(self, hooks: Hooks, state: TrainState) -> Hooks:
        """The hooks the loop uses in place of the runner's."""
        ...

    def forward_backward(
        self,
        fw: Forward,
        optimizer: torch.optim.Optimizer,
        x: Tensor,
        y: Tensor,
        *,
        measure: bool,
        check_halt: Callable[[], None],
    ) -> tuple[Tensor, Correct]: ...

    def elapsed_ms(self, started: float, what: str) -> float:
        """Milliseconds since `started`, the same figure on every rank."""
        ...

    def boundary(self, paused: bool) -> list[Received]:
        """At a step boundary: the shared decisions to carry out now."""
        ...


class OneDevice:
    """The whole run in this process, on one device."""

    collective: Collective = SOLO
    decides = True
    defer: Defer | None = None

    def join(self, device_name: str) -> None:
        return None

    def leave(self) -> None:
        return None

    def bind(self, hooks: Hooks, state: TrainState) -> Hooks:
        return hooks

    def forward_backward(
        self,
        fw: Forward,
        optimizer: torch.optim.Optimizer,
        x: Tensor,
        y: Tensor,
        *,
        measure: bool,
        check_halt: Callable[[], None],
    ) -> tuple[Tensor, Correct]:
        return local_forward_backward(
            fw, optimizer, x, y, measure=measure, check_halt=check_halt
        )

    def elapsed_ms(self, started: float, what: str) -> float:
        return (time.perf_counter() - started) * 1000.0

    def boundary(self, paused: bool) -> list[Received]:
        return []
