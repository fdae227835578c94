"""Kasmina's registry: every slot, its seed's signals, and the running counts.

Declared once here; the seed manager and its parts (transitions.py, stages.py)
share one instance and change it through its methods or the fields below.
"""

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from api_schemas.enums import SeedStage
from workers.engine.seeds.lifecycle import LIVE_STAGES
from workers.engine.seeds.signals import SlotSignals
from workers.engine.seeds.slot import SeedInfo, SeedSlot

S = SeedStage


@dataclass
class SeedRegistry:
    """The slots of one host and what the gates know about their seeds."""

    slots: dict[str, SeedSlot]
    signals: dict[str, SlotSignals] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    # How seeds ended in this run, by blueprint and by slot (keys
    # "blueprint:<name>" and "slot:<name>"): the policy's evidence.
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    seq: int = 0  # seeds germinated in this run, rollbacks included
    # Slots the per-step hooks visit: live seeds and embargoed slots. Empty, the
    # hooks return after one truth test.
    active: list[SeedSlot] = field(default_factory=list)

    def next_seed_id(self) -> str:
        self.seq += 1
        return f"seed-{self.seq}"

    def refresh_active(self) -> None:
        self.active = [
            s
            for s in self.slots.values()
            if s.stage in LIVE_STAGES or s.stage in (S.EMBARGOED,)
        ]

    def find(self, seed_id: str) -> SeedSlot | None:
        for slot in self.slots.values():
            if slot.info is not None and slot.info.seed_id == seed_id:
                return slot
        return None

    def record_outcome(self, slot: SeedSlot, outcome: str) -> None:
        """Count how the slot's seed ended ("fossilized" or "culled")."""
        keys = [f"slot:{slot.name}"]
        if slot.info is not None:
            keys.append(f"blueprint:{slot.info.blueprint}")
        for key in keys:
            self.outcomes.setdefault(key, Counter())[outcome] += 1

    def outcomes_of(self, kind: str) -> dict[str, Counter[str]]:
        """Outcomes by name for `kind` "blueprint" or "slot"."""
        prefix = f"{kind}:"
        return {
            key.removeprefix(prefix): counts
            for key, counts in self.outcomes.items()
            if key.startswith(prefix)
        }

    def stage_counts(self) -> dict[str, int]:
        return dict(Counter(s.stage.value for s in self.slots.values()))

    def live_count(self) -> int:
        return sum(1 for s in self.slots.values() if s.stage in LIVE_STAGES)

    def views(self) -> list[dict[str, Any]]:
        return [s.view() for s in self.slots.values()]

    def seed_groups(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Optimizer groups the seeds need, in germination order."""
        held = [s for s in self.slots.values() if s.seed is not None and s.info]
        held.sort(key=lambda s: int(s.info.seed_id.split("-")[1]) if s.info else 0)
        groups = []
        for slot in held:
            assert slot.info is not None
            owner = slot.info.seed_id
            if slot.stage is S.FOSSILIZED:
                owner = f"fossil:{owner}"
            groups.append((owner, slot.seed_parameters()))
        return groups

    # ---- checkpoints and rollback -------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything but the seeds' modules (the model's state_dict has those).
        Reads the device losses still queued back first (a sync)."""
        for signals in self.signals.values():
            signals.resolve("probe", "host", "blend")
        return {
            "signals": {name: s.to_dict() for name, s in self.signals.items()},
            "seq": self.seq,
            "counts": dict(self.counts),
            "outcomes": {key: dict(c) for key, c in self.outcomes.items()},
            "slots": {
                name: {
                    "stage": s.stage.value,
                    "alpha": s.alpha,
                    "embargo_until": s.embargo_until,
                    "info": asdict(s.info) if s.info else None,
                }
                for name, s in self.slots.items()
            },
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """The registry as `state` saved it; the caller rebuilds the modules.
        Readings in flight belong to the state rolled back from: dropped."""
        # Never back: a seed planted after the restored state keeps its id to
        # itself, so the lineage never merges two seeds under one id.
        self.seq = max(self.seq, int(state["seq"]))
        saved = state.get("signals", {})
        self.signals = {name: SlotSignals.from_dict(s) for name, s in saved.items()}
        self.counts = Counter(state["counts"])
        # Never back either: what a rollback undoes was still learnt (a
        # blueprint culled after the checkpoint stays suspect). Counts only
        # grow, so the larger of each is the newer; a resume starts from none.
        # Absent from checkpoints written before outcomes were kept.
        for key, saved_counts in state.get("outcomes", {}).items():
            counts = self.outcomes.setdefault(key, Counter())
            for outcome, n in saved_counts.items():
                counts[outcome] = max(counts[outcome], int(n))
        for name, slot_state in state["slots"].items():
            slot = self.slots[name]
            slot.stage = SeedStage(slot_state["stage"])
            slot.alpha = float(slot_state["alpha"])
            slot.embargo_until = int(slot_state["embargo_until"])
            slot.g1_pending = None
            info = slot_state["info"]
            slot.info = SeedInfo(**info) if info else None
