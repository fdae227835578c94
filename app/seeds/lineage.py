"""The rules that turn a run's seed packets into its seeds' lineage rows.

Pure: a `Seed` row and one packet in, the row changed in place. The store
(store.py) picks the rows and writes them back in the persister's transaction.

Packets are applied in stream order, and each row remembers the cursor of the
last one that changed it, so a packet seen again (a restarted gateway, a
second replica) is at or before it, or was a no-op then and is one again.
"""

import math
from dataclasses import dataclass
from typing import Any

from api_schemas.enums import SeedOutcome, SeedStage
from app.models import Seed

S = SeedStage
STAGE_CHANGED = "kasmina.seed.stage_changed"
GATE_FAILURE = "kasmina.gate_failure"
RESTORED = "kasmina.seeds.restored"
REPORTS = frozenset({"kasmina.seed.stage", "kasmina.seed.alpha"})
NAMES = frozenset({STAGE_CHANGED, GATE_FAILURE, RESTORED, *REPORTS})
LIVE = frozenset({S.GERMINATED, S.TRAINING, S.BLENDING, S.SHADOWING, S.PROBATIONARY})
# The slot's own moves after a cull (embargo, reset): in the seed's history,
# while the seed itself stays CULLED.
AFTER_CULL = frozenset({S.CULLED, S.EMBARGOED, S.RESETTING, S.DORMANT})
# A seed rolled back and forth for ever must not grow its row without bound;
# the first entries (germination) and the newest are kept.
MAX_ENTRIES = 200


@dataclass(frozen=True, slots=True)
class Packet:
    """What the lineage reads of one telemetry packet."""

    run_id: str
    cursor: tuple[int, int]
    name: str
    step: int
    attrs: dict[str, Any]

    def seed_ids(self) -> list[str]:
        """The seeds this packet is about. A G0 failure names no new seed (the
        id it carries is the slot's previous one)."""
        if self.name == RESTORED:
            return [i for s in _held(self.attrs) if (i := _str(s.get("seed_id")))]
        if self.name == GATE_FAILURE and self.attrs.get("gate") == "G0":
            return []
        seed_id = _str(self.attrs.get("seed_id"))
        return [seed_id] if seed_id else []


def packet(row: dict[str, Any]) -> Packet | None:
    """A history row (app/telemetry/store.record) as a lineage packet, or None
    when it is not about seeds."""
    if row.get("name") not in NAMES or not isinstance(row.get("attrs"), dict):
        return None
    step = row.get("step")
    return Packet(
        run_id=str(row["run_id"]),
        cursor=(int(row["cursor_ms"]), int(row["cursor_seq"])),
        name=str(row["name"]),
        step=step if isinstance(step, int) else 0,
        attrs=row["attrs"],
    )


def new_seed(p: Packet, seed_id: str) -> Seed:
    """The row for a seed first seen in `p` (normally its germination)."""
    attrs = _attrs_of(p, seed_id)
    germinated = attrs.get("germinated_step")
    return Seed(
        run_id=p.run_id,
        seed_id=seed_id,
        slot=_str(attrs.get("slot"))[:200],
        blueprint=_str(attrs.get("blueprint"))[:200],
        germinated_step=germinated if isinstance(germinated, int) else p.step,
    )


def apply(seed: Seed, p: Packet) -> bool:
    """Apply `p` to `seed` unless it was applied already; True if it changed
    the seed.

    A packet that changes nothing (most periodic seed packets) leaves the
    cursor too, so the row is not written: seen again, it still changes
    nothing, since every packet after the row's cursor was such a no-op.
    """
    if p.cursor <= (seed.cursor_ms, seed.cursor_seq):
        return False
    before = _lineage(seed)
    if p.name == RESTORED:
        held = _attrs_of(p, seed.seed_id)
        if held:
            _report(seed, p.step, held, "restored")
        else:
            _end(seed, S.CULLED, p.step, "removed: planted after the restored state")
    elif p.name == STAGE_CHANGED:
        _stage_changed(seed, p)
    elif p.name == GATE_FAILURE:
        _gate(seed, p, passed=False)
    else:
        _report(seed, p.step, p.attrs, "reported")
    if _lineage(seed) == before:
        return False
    seed.cursor_ms, seed.cursor_seq = p.cursor
    return True


def _lineage(seed: Seed) -> tuple[Any, ...]:
    """Every column a packet may change, but the cursor."""
    return (
        seed.slot,
        seed.blueprint,
        seed.stage,
        seed.alpha,
        seed.params,
        seed.germinated_step,
        seed.ended_step,
        seed.outcome,
        seed.reason,
        seed.history,
        seed.gates,
    )


def _stage_changed(seed: Seed, p: Packet) -> None:
    stage = _stage(p.attrs.get("to"))
    if stage is None:
        return
    if stage is S.GERMINATED and seed.history:
        # The id was planted again (a resumed attempt's checkpoint predates
        # the first planting): the row describes the seed the model holds.
        fresh = new_seed(p, seed.seed_id)
        seed.history, seed.gates = [], []
        seed.slot, seed.blueprint = fresh.slot, fresh.blueprint
        seed.germinated_step = fresh.germinated_step
    _identity(seed, p.attrs)
    reason = _str(p.attrs.get("reason"))
    _enter(seed, stage, p.step, reason)
    if p.attrs.get("gate"):
        _gate(seed, p, passed=True)


def _report(seed: Seed, step: int, attrs: dict[str, Any], why: str) -> None:
    """A seed's state as the worker reports it (a periodic seed packet, the
    list after a restore): the stage only changes here when the events did
    not say so (a rollback or resume restored it), and the history says so."""
    _identity(seed, attrs)
    stage = _stage(attrs.get("stage"))
    if stage is None:
        return
    if not seed.history:  # first seen here: a forked run's grown seed
        since = attrs.get("stage_step")
        reason = _str(attrs.get("reason")) or why
        _enter(seed, stage, since if isinstance(since, int) else step, reason)
    elif _effective(stage) is not _effective(S(seed.stage)):
        _enter(seed, stage, step, f"{why}: {attrs.get('reason') or stage.value}")


def _enter(seed: Seed, stage: SeedStage, step: int, reason: str) -> None:
    """Record `stage` in the history and move the seed (and its outcome)."""
    seed.history = _capped([*seed.history, _entry(stage, step, reason)])
    seed.reason = reason[:4000]
    if stage in AFTER_CULL:
        _end(seed, S.CULLED, step, None)
    elif stage is S.FOSSILIZED:
        _end(seed, S.FOSSILIZED, step, None)
    elif stage in LIVE:
        seed.stage, seed.outcome, seed.ended_step = stage, SeedOutcome.live, None


def _end(seed: Seed, stage: SeedStage, step: int, reason: str | None) -> None:
    """Fossilised or culled at `step` (kept if it already ended so)."""
    if seed.stage == stage and seed.outcome != SeedOutcome.live:
        return
    if reason is not None:
        seed.history = _capped([*seed.history, _entry(stage, step, reason)])
        seed.reason = reason
    outcome = SeedOutcome.fossilised if stage is S.FOSSILIZED else SeedOutcome.culled
    seed.stage, seed.outcome, seed.ended_step = stage, outcome, step


def _gate(seed: Seed, p: Packet, passed: bool) -> None:
    _identity(seed, p.attrs)
    verdict = {
        "gate": _str(p.attrs.get("gate"))[:16],
        "passed": passed,
        "step": p.step,
        "reason": _str(p.attrs.get("reason"))[:4000],
        "figures": _figures(p.attrs.get("figures")),
    }
    seed.gates = _capped([*seed.gates, verdict])


def _identity(seed: Seed, attrs: dict[str, Any]) -> None:
    """Slot, blueprint and size as the packet carries them; alpha as of now."""
    seed.slot = _str(attrs.get("slot"))[:200] or seed.slot
    seed.blueprint = _str(attrs.get("blueprint"))[:200] or seed.blueprint
    params, alpha = attrs.get("params"), _number(attrs.get("alpha"))
    if isinstance(params, int) and params > 0:
        seed.params = params
    if alpha is not None:
        seed.alpha = alpha


def _effective(stage: SeedStage) -> SeedStage:
    return S.CULLED if stage in AFTER_CULL else stage


def _attrs_of(p: Packet, seed_id: str) -> dict[str, Any]:
    """The attrs about `seed_id`: the packet's own, or its entry in a restore."""
    if p.name != RESTORED:
        return p.attrs
    return next((s for s in _held(p.attrs) if s.get("seed_id") == seed_id), {})


def _held(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    seeds = attrs.get("seeds")
    return [s for s in seeds if isinstance(s, dict)] if isinstance(seeds, list) else []


def _entry(stage: SeedStage, step: int, reason: str) -> dict[str, Any]:
    return {"stage": stage.value, "step": step, "reason": reason[:4000]}


def _capped(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(entries) <= MAX_ENTRIES:
        return entries
    return entries[:10] + entries[-(MAX_ENTRIES - 10) :]


def _stage(value: Any) -> SeedStage | None:
    try:
        return SeedStage(value)
    except ValueError:
        return None


def _figures(value: Any) -> dict[str, float | None]:
    """Numbers only; JSON (and PostgreSQL) has no NaN, so non-finite is null."""
    if not isinstance(value, dict):
        return {}
    return {
        str(k)[:100]: _number(v)
        for k, v in value.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
