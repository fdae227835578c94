"""The engine's real seed events through the lineage rules: what the worker
emits is enough for the gateway to rebuild each seed, rollbacks included."""

from pathlib import Path
from typing import Any

from app.models import Seed
from app.seeds import lineage
from tests.unit.engine.helpers import Script, run, spec


def lineages(packets: list[dict[str, Any]]) -> dict[str, Seed]:
    """Every seed the packets describe, as the store would build them."""
    seeds: dict[str, Seed] = {}
    for index, raw in enumerate(packets):
        row = {**raw, "run_id": "r", "cursor_ms": index + 1, "cursor_seq": 0}
        p = lineage.packet(row)
        if p is None:
            continue
        for seed_id in p.seed_ids():
            seeds.setdefault(seed_id, lineage.new_seed(p, seed_id))
        everyone = p.name == lineage.RESTORED
        for seed_id in list(seeds) if everyone else p.seed_ids():
            lineage.apply(seeds[seed_id], p)
    return seeds


def test_a_rollback_ends_the_seed_it_removed_and_ids_never_repeat(
    tmp_path: Path,
) -> None:
    script = Script()
    script.at(2, "seed_enable", slot="block0", blueprint="low_rank")
    rollback = script.at(6, "rollback", checkpoint_id="snap-0")
    second = script.at(8, "seed_enable", slot="block1", blueprint="low_rank")
    script.at(12, "seed_disable", seed_id="seed-2")
    _, outcome = run(script, spec(epochs=1), tmp_path)
    assert outcome.state == "completed", outcome.error
    assert script.ack_for(rollback)[0] == "applied"
    assert script.ack_for(second)[2]["seed_id"] == "seed-2"  # not seed-1 again
    planted = script.named("kasmina.seed.stage_changed")[0]["attrs"]
    assert (planted["gate"], planted["to"], planted["germinated_step"]) == (
        "G0",
        "GERMINATED",
        2,
    )
    assert planted["params"] > 0 and planted["figures"]["params"] == planted["params"]
    restored = script.named("kasmina.seeds.restored")
    assert len(restored) == 1 and restored[0]["attrs"]["seeds"] == []

    seeds = lineages(script.packets)
    gone, culled = seeds["seed-1"], seeds["seed-2"]
    assert (gone.outcome, gone.ended_step) == ("culled", restored[0]["step"])
    assert "restored state" in (gone.reason or "")
    assert (culled.outcome, culled.slot, culled.ended_step) == ("culled", "block1", 12)
    stages = ["GERMINATED", "TRAINING", "CULLED", "EMBARGOED"]
    assert [h["stage"] for h in culled.history] == stages
    assert culled.history[2]["reason"] == "operator seed_disable"
    assert [(g["gate"], g["passed"]) for g in culled.gates] == [("G0", True)]
