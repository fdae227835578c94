"""Operator commands, applied by the trainer at a step boundary.

Each handler returns (state, reason, result); the trainer acks exactly once.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from api_schemas.catalogue import BLUEPRINTS_BY_NAME
from workers.engine.hooks import EngineCommand
from workers.engine.seeds.lifecycle import LIVE_STAGES

if TYPE_CHECKING:
    from workers.engine.trainer import Trainer

Ack = tuple[str, str | None, dict[str, Any]]
APPLIED, REJECTED = "applied", "rejected"


def _pause(t: "Trainer", cmd: EngineCommand) -> Ack:
    if t.paused:
        return APPLIED, "already paused", {"step": t.step}
    t.paused = True
    return APPLIED, None, {"step": t.step}


def _resume(t: "Trainer", cmd: EngineCommand) -> Ack:
    if not t.paused:
        return APPLIED, "not paused", {"step": t.step}
    t.paused = False
    return APPLIED, None, {"step": t.step}


def _stop(t: "Trainer", cmd: EngineCommand) -> Ack:
    t.stop_requested = True
    return APPLIED, None, {"step": t.step}


def _emergency_halt(t: "Trainer", cmd: EngineCommand) -> Ack:
    reason = str(cmd.params.get("reason") or "operator emergency_halt")
    t.hooks.halt_info.setdefault("reason", reason)
    t.hooks.halt.set()
    return APPLIED, None, {"step": t.step}


def _rollback(t: "Trainer", cmd: EngineCommand) -> Ack:
    target = cmd.params.get("checkpoint_id")
    try:
        result = t.rollback(str(target) if target else None, reason="operator rollback")
    except LookupError as exc:
        return REJECTED, str(exc), {}
    return APPLIED, None, result


def _seed_enable(t: "Trainer", cmd: EngineCommand) -> Ack:
    slot_name, blueprint = cmd.params.get("slot"), cmd.params.get("blueprint")
    seeds = t.seeds
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
    info = slot.info
    return (
        APPLIED,
        None,
        {
            "seed_id": info.seed_id if info else None,
            "slot": slot_name,
            "blueprint": blueprint,
        },
    )


def _seed_disable(t: "Trainer", cmd: EngineCommand) -> Ack:
    seed_id = str(cmd.params.get("seed_id"))
    slot = t.seeds.find(seed_id) if t.seeds else None
    if slot is None or t.seeds is None:
        return REJECTED, f"unknown seed {seed_id!r}", {}
    if slot.stage not in LIVE_STAGES:
        return REJECTED, f"seed {seed_id} is {slot.stage.value}, not live", {}
    t.seeds.cull(slot, "operator seed_disable")
    return APPLIED, None, {"seed_id": seed_id, "slot": slot.name}


def _registry_reset(t: "Trainer", cmd: EngineCommand) -> Ack:
    cleared = t.cache.clear() if t.cache else 0
    t.tm.event("kasmina.registry_reset", "info", {"cleared": cleared})
    return APPLIED, None, {"cleared": cleared}


HANDLERS: dict[str, Callable[["Trainer", EngineCommand], Ack]] = {
    "pause": _pause,
    "resume": _resume,
    "stop": _stop,
    "rollback": _rollback,
    "emergency_halt": _emergency_halt,
    "seed_enable": _seed_enable,
    "seed_disable": _seed_disable,
    "registry_reset": _registry_reset,
}


def apply_command(t: "Trainer", cmd: EngineCommand) -> Ack:
    handler = HANDLERS.get(cmd.type)
    if handler is None:
        return REJECTED, f"unknown command type {cmd.type!r}", {}
    return handler(t, cmd)
