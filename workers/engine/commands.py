"""Operator commands, applied by the trainer at a step boundary.

Each handler checks a command's parameters and calls one named method of the
run (`Controls`, which the Trainer implements); it never touches the loop's
state itself. It returns (state, reason, result); the trainer acks exactly once.
"""

from collections.abc import Callable
from typing import Any, Protocol

from api_schemas.catalogue import BLUEPRINTS_BY_NAME
from workers.engine.hooks import EngineCommand
from workers.engine.seeds.lifecycle import LIVE_STAGES
from workers.engine.seeds.manager import SeedManager

Ack = tuple[str, str | None, dict[str, Any]]
APPLIED, REJECTED = "applied", "rejected"


class Controls(Protocol):
    """What a command may ask of a run."""

    @property
    def step(self) -> int: ...

    @property
    def seeds(self) -> SeedManager | None:
        """None until the run is set up."""
        ...

    def pause(self) -> bool:
        """Pause at this boundary; False when already paused."""
        ...

    def resume(self) -> bool:
        """False when not paused."""
        ...

    def request_stop(self) -> None: ...

    def request_halt(self, reason: str) -> None: ...

    def rollback(self, target: str | None, reason: str) -> dict[str, Any]:
        """Raises LookupError when there is no such snapshot or checkpoint."""
        ...

    def reset_registry(self) -> int:
        """Forget the prebuilt blueprints; returns how many."""
        ...

    def profile(self, steps: int) -> dict[str, Any]:
        """Record the next `steps` steps; raises ValueError when it cannot."""
        ...


def _pause(run: Controls, cmd: EngineCommand) -> Ack:
    reason = None if run.pause() else "already paused"
    return APPLIED, reason, {"step": run.step}


def _resume(run: Controls, cmd: EngineCommand) -> Ack:
    reason = None if run.resume() else "not paused"
    return APPLIED, reason, {"step": run.step}


def _stop(run: Controls, cmd: EngineCommand) -> Ack:
    run.request_stop()
    return APPLIED, None, {"step": run.step}


def _emergency_halt(run: Controls, cmd: EngineCommand) -> Ack:
    run.request_halt(str(cmd.params.get("reason") or "operator emergency_halt"))
    return APPLIED, None, {"step": run.step}


def _rollback(run: Controls, cmd: EngineCommand) -> Ack:
    target = cmd.params.get("checkpoint_id")
    try:
        result = run.rollback(str(target) if target else None, "operator rollback")
    except LookupError as exc:
        return REJECTED, str(exc), {}
    return APPLIED, None, result


def _seed_enable(run: Controls, cmd: EngineCommand) -> Ack:
    slot_name, blueprint = cmd.params.get("slot"), cmd.params.get("blueprint")
    seeds = run.seeds
    if seeds is None:
        return REJECTED, "engine not ready", {}
    if slot_name not in seeds.slots:
        return REJECTED, f"unknown slot {slot_name!r}; slots: {sorted(seeds.slots)}", {}
    if blueprint not in BLUEPRINTS_BY_NAME:
        return REJECTED, f"unknown blueprint {blueprint!r}", {}
    slot = seeds.slots[str(slot_name)]
    if seeds.embargoed(slot):
        return REJECTED, f"slot {slot_name} is embargoed (stage {slot.stage})", {}
    if not seeds.slot_free(slot):
        return REJECTED, f"slot {slot_name} is busy (stage {slot.stage})", {}
    result = seeds.germinate(
        str(slot_name), str(blueprint), forced=True, reason="operator seed_enable"
    )
    if not result.passed:
        return REJECTED, f"G0 failed: {result.reason}", {}
    seed_id = slot.info.seed_id if slot.info else None
    return (
        APPLIED,
        None,
        {"seed_id": seed_id, "slot": slot_name, "blueprint": blueprint},
    )


def _seed_disable(run: Controls, cmd: EngineCommand) -> Ack:
    seed_id = str(cmd.params.get("seed_id"))
    seeds = run.seeds
    slot = seeds.find(seed_id) if seeds is not None else None
    if slot is None or seeds is None:
        return REJECTED, f"unknown seed {seed_id!r}", {}
    if slot.stage not in LIVE_STAGES:
        return REJECTED, f"seed {seed_id} is {slot.stage.value}, not live", {}
    seeds.cull(slot, "operator seed_disable")
    return APPLIED, None, {"seed_id": seed_id, "slot": slot.name}


def _registry_reset(run: Controls, cmd: EngineCommand) -> Ack:
    return APPLIED, None, {"cleared": run.reset_registry()}


def _profile(run: Controls, cmd: EngineCommand) -> Ack:
    steps = cmd.params.get("steps", 20)
    if not isinstance(steps, int) or isinstance(steps, bool):
        return REJECTED, f"steps must be an integer, not {steps!r}", {}
    try:
        return APPLIED, None, run.profile(steps)
    except ValueError as exc:
        return REJECTED, str(exc), {}


HANDLERS: dict[str, Callable[[Controls, EngineCommand], Ack]] = {
    "pause": _pause,
    "resume": _resume,
    "stop": _stop,
    "rollback": _rollback,
    "emergency_halt": _emergency_halt,
    "seed_enable": _seed_enable,
    "seed_disable": _seed_disable,
    "registry_reset": _registry_reset,
    "profile": _profile,
}


def apply_command(run: Controls, cmd: EngineCommand) -> Ack:
    handler = HANDLERS.get(cmd.type)
    if handler is None:
        return REJECTED, f"unknown command type {cmd.type!r}", {}
    return handler(run, cmd)
