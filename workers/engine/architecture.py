"""What the model looks like, for the dashboard's architecture view (docs/telemetry.md).

Two packets, both cheap and rare:

- `tolaria.model.architecture` (event), once per attempt as training starts: the
  host's kind and options, its blocks in order (layers, parameters, the slot after
  each and that slot's activation shape), the head, the host's parameter count.
- `tolaria.model.params` (metric): the model's trainable parameters (host plus
  every seed module it holds), at the start, whenever a seed's move changes it
  (a germination adds a seed's parameters, a cull removes them; a fossilised
  seed keeps them) and at each epoch end.

Neither is in the per-step path: the count is taken when a seed changes stage.
"""

from typing import Any

from torch import nn

from workers.engine.seeds.slot import SeedSlot, find_slots
from workers.engine.telemetry import Telemetry

ARCHITECTURE = "tolaria.model.architecture"
PARAMS = "tolaria.model.params"
MAX_BLOCKS = 64  # a spec's depth is at most 64 (api_schemas/runs.py)


def _numel(module: nn.Module | None, exclude: set[int] | None = None) -> int:
    if module is None:
        return 0
    skip = exclude or set()
    return sum(p.numel() for p in module.parameters() if id(p) not in skip)


def layer_label(module: nn.Module) -> str:
    """A short, readable name of one layer: `Linear(64→128)`, `Conv2d(3→32, 3×3)`."""
    name = type(module).__name__
    if isinstance(module, nn.Linear):
        return f"{name}({module.in_features}→{module.out_features})"
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        kernel = "×".join(str(k) for k in module.kernel_size)
        return f"{name}({module.in_channels}→{module.out_channels}, {kernel})"
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        return f"{name}({module.num_features})"
    if isinstance(module, nn.MaxPool1d | nn.MaxPool2d):
        return f"{name}({module.kernel_size})"
    return name


def _layers(block: nn.Module) -> list[str]:
    children = list(block.children())
    return [layer_label(m) for m in children] if children else [layer_label(block)]


def seed_param_ids(slots: dict[str, SeedSlot]) -> set[int]:
    return {id(p) for slot in slots.values() for p in slot.seed_parameters()}


def describe(model: nn.Module) -> dict[str, Any]:
    """The host as blocks, each followed by its slot (the engine's hosts, workers/
    engine/hosts.py); a plug-in host without `blocks` is described by its slots."""
    while not hasattr(model, "blocks"):  # DistributedDataParallel, torch.compile
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            break
        model = inner
    slots = find_slots(model)
    seeds = seed_param_ids(slots)
    blocks = getattr(model, "blocks", None)
    host_slots = getattr(model, "slots", None)
    out: list[dict[str, Any]] = []
    if (
        isinstance(blocks, nn.ModuleList)
        and isinstance(host_slots, nn.ModuleList)
        and len(blocks) == len(host_slots)
    ):
        for i, (block, slot) in enumerate(zip(blocks, host_slots, strict=True)):
            if i >= MAX_BLOCKS:
                break
            out.append(
                {
                    "name": f"block{i}",
                    "layers": _layers(block),
                    "params": _numel(block),
                    "slot": getattr(slot, "name", None),
                    "shape": list(getattr(slot, "shape", ())),
                }
            )
    else:
        for name, slot in list(slots.items())[:MAX_BLOCKS]:
            out.append(
                {
                    "name": name,
                    "layers": [],
                    "params": None,
                    "slot": name,
                    "shape": list(slot.shape),
                }
            )
    head = getattr(model, "head", None)
    return {
        "host": str(getattr(model, "kind", type(model).__name__)),
        "args": dict(getattr(model, "args", {}) or {}),
        "blocks": out,
        "head": _layers(head) if isinstance(head, nn.Module) else [],
        "head_params": _numel(head) if isinstance(head, nn.Module) else None,
        "host_params": _numel(model, seeds),
        "params": _numel(model),
    }


class ArchitectureReport:
    """Tells the architecture once per attempt, then the parameter count when it
    changes. Before `start` (while the trainer is being built or restored) a
    seed change is only remembered: the step counter is not the run's yet."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.tm = telemetry
        self.last: int | None = None
        self.started = False

    def start(self, model: nn.Module, step: int) -> None:
        info = describe(model)
        self.started = True
        # After a resume the counter still reads 0 until the first step.
        self.tm.step = step
        self.tm.event(ARCHITECTURE, "info", info)
        self.last = int(info["params"])
        self.tm.metric(PARAMS, float(self.last), {"host": info["host_params"]})

    def epoch_end(self) -> None:
        """The count again at each epoch end, so a chart of it spans the run
        (it changes only when seeds move)."""
        if self.started and self.last is not None:
            self.tm.metric(PARAMS, float(self.last))

    def changed(self, host_params: int, slots: dict[str, SeedSlot]) -> None:
        """A seed moved: send the count if it differs from the last one sent."""
        if not self.started:
            return
        seeds = (p.numel() for slot in slots.values() for p in slot.seed_parameters())
        total = host_params + sum(seeds)
        if total != self.last:
            self.last = total
            self.tm.metric(PARAMS, float(total), {"host": host_params})
