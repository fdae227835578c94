"""The lineage rules on their own: packets in, a seed row's lineage out."""

import math
from typing import Any

from api_schemas import SeedRead
from app.models import Seed
from app.seeds import lineage
from app.seeds.lineage import Packet

RUN = "run-1"


class Stream:
    """Packets as the engine writes them, with increasing cursors."""

    def __init__(self) -> None:
        self.packets: list[Packet] = []

    def add(self, name: str, step: int, **attrs: Any) -> Packet:
        row = {
            "run_id": RUN,
            "cursor_ms": 1000 + len(self.packets),
            "cursor_seq": 0,
            "name": name,
            "step": step,
            "attrs": attrs,
        }
        found = lineage.packet(row)
        assert found is not None
        self.packets.append(found)
        return found

    def move(self, step: int, to: str, reason: str, **extra: Any) -> None:
        attrs: dict[str, Any] = {"seed_id": "seed-1", "slot": "block0"}
        attrs["blueprint"] = "low_rank"
        attrs |= {"to": to, "stage": to, "reason": reason, "params": 96, **extra}
        self.add(lineage.STAGE_CHANGED, step, **attrs)
        self.add("kasmina.seed.stage", step, **{**attrs, "reason": reason})


def replay(packets: list[Packet], seed: Seed | None = None) -> Seed:
    seed = seed or lineage.new_seed(packets[0], packets[0].seed_ids()[0])
    for p in packets:
        if seed.seed_id in p.seed_ids() or p.name == lineage.RESTORED:
            lineage.apply(seed, p)
    return seed


def fossilising() -> Stream:
    s = Stream()
    s.move(10, "GERMINATED", "G0 passed (policy)", gate="G0", figures={"params": 96})
    s.move(11, "TRAINING", "training in isolation")
    s.add("kasmina.seed.alpha", 20, seed_id="seed-1", stage="TRAINING", alpha=0.0)
    s.move(45, "BLENDING", "G2 passed: stable", gate="G2", figures={"cv": 0.1})
    s.add("kasmina.seed.alpha", 50, seed_id="seed-1", stage="BLENDING", alpha=0.4)
    s.move(65, "SHADOWING", "G3 passed", gate="G3", figures={"spike": 0.0}, alpha=1.0)
    s.move(100, "PROBATIONARY", "G4 passed: +2%", gate="G4", figures={"gain": 0.02})
    s.move(200, "FOSSILIZED", "G4 passed: +3%", gate="G4", figures={"gain": 0.03})
    return s


def culled_by_g1() -> Stream:
    s = Stream()
    s.move(10, "GERMINATED", "G0 passed (operator seed_enable)", gate="G0")
    s.move(11, "TRAINING", "training in isolation")
    figures = {"grad_norm": math.nan, "violations": 0}
    s.add(
        lineage.GATE_FAILURE,
        15,
        seed_id="seed-1",
        gate="G1",
        reason="seed gradient not finite",
        figures=figures,
    )
    s.move(15, "CULLED", "G1 failed: seed gradient not finite")
    s.move(15, "EMBARGOED", "embargoed until step 45")
    s.move(45, "RESETTING", "embargo over")
    s.move(45, "DORMANT", "G5 passed: slot clean", gate="G5")
    return s


def test_a_fossilised_seed_has_its_history_gates_and_outcome() -> None:
    seed = replay(fossilising().packets)
    read = SeedRead.model_validate(seed, from_attributes=True)
    assert (read.outcome, read.stage, read.ended_step) == (
        "fossilised",
        "FOSSILIZED",
        200,
    )
    assert (read.slot, read.blueprint, read.params, read.germinated_step) == (
        "block0",
        "low_rank",
        96,
        10,
    )
    assert [(h.stage, h.step) for h in read.history] == [
        ("GERMINATED", 10),
        ("TRAINING", 11),
        ("BLENDING", 45),
        ("SHADOWING", 65),
        ("PROBATIONARY", 100),
        ("FOSSILIZED", 200),
    ]
    assert [(g.gate, g.passed, g.step) for g in read.gates] == [
        ("G0", True, 10),
        ("G2", True, 45),
        ("G3", True, 65),
        ("G4", True, 100),
        ("G4", True, 200),
    ]
    assert read.gates[-1].figures == {"gain": 0.03}
    assert read.alpha == 1.0


def test_a_culled_seed_stays_culled_through_its_slots_embargo_and_reset() -> None:
    seed = replay(culled_by_g1().packets)
    assert (seed.outcome, seed.stage, seed.ended_step) == ("culled", "CULLED", 15)
    assert [h["stage"] for h in seed.history] == [
        "GERMINATED",
        "TRAINING",
        "CULLED",
        "EMBARGOED",
        "RESETTING",
        "DORMANT",
    ]
    failure = seed.gates[1]
    assert (failure["gate"], failure["passed"], failure["step"]) == ("G1", False, 15)
    assert failure["reason"] == "seed gradient not finite"
    assert failure["figures"] == {"grad_norm": None, "violations": 0.0}  # no NaN
    assert seed.gates[-1]["gate"] == "G5" and seed.gates[-1]["passed"]


def test_every_packet_applied_once_however_often_it_is_seen() -> None:
    packets = fossilising().packets
    once = replay(packets)
    seed = lineage.new_seed(packets[0], "seed-1")
    for end in range(1, len(packets) + 1):  # a replica re-reading from the start
        replay(packets[:end], seed)
    replay(packets, seed)
    assert (seed.history, seed.gates) == (once.history, once.gates)
    assert not lineage.apply(seed, packets[3])  # at or before its cursor


def test_a_packet_older_than_the_rows_cursor_changes_nothing() -> None:
    s = fossilising()
    seed = replay(s.packets[:4])
    later = s.packets[-2:]
    replay(later, seed)
    stale = s.packets[5]  # BLENDING, read late by a lagging replica
    assert not lineage.apply(seed, stale)
    assert seed.stage == "FOSSILIZED" and [h["stage"] for h in seed.history][-1] == (
        "FOSSILIZED"
    )


def test_a_g0_failure_names_no_seed() -> None:
    s = Stream()
    p = s.add(lineage.GATE_FAILURE, 5, seed_id="seed-1", gate="G0", reason="busy")
    assert p.seed_ids() == []
    assert lineage.packet({"name": "tolaria.training.loss", "attrs": {}}) is None


def test_a_rollback_ends_seeds_planted_after_it_and_revives_culled_ones() -> None:
    s = culled_by_g1()
    culled = replay(s.packets[:8])  # culled and embargoed
    held = {"seed_id": "seed-1", "slot": "block0", "stage": "TRAINING", "alpha": 0.0}
    planted = Stream()
    planted.move(30, "GERMINATED", "G0 passed (policy)", gate="G0", seed_id="seed-2")
    late = replay(planted.packets)
    restore = s.add(lineage.RESTORED, 31, seeds=[held])
    assert lineage.apply(culled, restore) and lineage.apply(late, restore)
    assert (culled.outcome, culled.stage, culled.ended_step) == (
        "live",
        "TRAINING",
        None,
    )
    assert culled.history[-1]["reason"].startswith("restored")
    assert (late.outcome, late.ended_step) == ("culled", 31)
    assert "restored state" in late.history[-1]["reason"]


def test_a_seed_first_seen_in_a_report_starts_from_what_it_carries() -> None:
    s = Stream()
    report = s.add(
        "kasmina.seed.stage",
        7,
        seed_id="seed-4",
        slot="block1",
        blueprint="bottleneck",
        stage="FOSSILIZED",
        alpha=1.0,
        params=300,
        germinated_step=40,
        stage_step=120,
        reason="G4 passed",
    )
    seed = lineage.new_seed(report, "seed-4")
    lineage.apply(seed, report)
    assert (seed.germinated_step, seed.ended_step, seed.outcome) == (
        40,
        120,
        "fossilised",
    )
    assert seed.history == [{"stage": "FOSSILIZED", "step": 120, "reason": "G4 passed"}]


def test_a_report_that_changes_nothing_leaves_the_row_unwritten() -> None:
    s = fossilising()
    seed = replay(s.packets[:4])  # germinated, then TRAINING
    cursor = (seed.cursor_ms, seed.cursor_seq)
    same = s.add(
        "kasmina.seed.alpha", 30, seed_id="seed-1", stage="TRAINING", alpha=0.0
    )
    assert not lineage.apply(seed, same)
    assert (seed.cursor_ms, seed.cursor_seq) == cursor
    moved = s.add(
        "kasmina.seed.alpha", 40, seed_id="seed-1", stage="TRAINING", alpha=0.2
    )
    assert lineage.apply(seed, moved) and seed.alpha == 0.2
    assert not lineage.apply(seed, same)  # older than the row's cursor now
