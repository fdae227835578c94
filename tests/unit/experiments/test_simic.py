"""The learned policy's pipeline on a tiny synthetic dataset: training finds
a planted preference, the weights file loads safely, and the plug-in decides
with it inside the heuristic's hard rules."""

import json
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from api_schemas.runs import Morphogenesis
from experiments.growth.record import RunRecord
from experiments.simic import dataset
from experiments.simic.train import train
from workers.engine.policy import learned
from workers.engine.policy.base import PolicyInputs, SlotState
from workers.engine.policy.loader import load_policy

BLUEPRINTS = [
    {"name": n, "risk": r, "slot_kinds": ["vector"], "params_estimate": p}
    for n, r, p in (("residual_mlp", 0.1, 4192), ("low_rank", 0.05, 1088))
]


def summary(step: int, accuracy: float) -> dict[str, Any]:
    return {
        "step": step,
        "total_steps": 400,
        "accuracy": accuracy,
        "val_accuracy": accuracy - 0.01,
        "loss_trend": -0.05,
        "live_seeds": 0,
        "seeds_germinated": 0,
        "free_slots": ["block0", "block1"],
    }


def planted_rows(n: int = 120) -> list[dict[str, Any]]:
    """residual_mlp in block1 fossilises 90% of the time, anything else 10%."""
    rng = random.Random(0)
    rows = []
    for i in range(n):
        slot, bp = (
            rng.choice(["block0", "block1"]),
            rng.choice(["residual_mlp", "low_rank"]),
        )
        good = slot == "block1" and bp == "residual_mlp"
        won = rng.random() < (0.9 if good else 0.1)
        rows.append(
            {
                "rng_seed": i % 4,
                "task": "synthetic",
                "slot": slot,
                "blueprint": bp,
                "inputs": summary(rng.randrange(30, 200), rng.uniform(0.4, 0.9)),
                "reward": float(won),
                "fate": "fossilized" if won else "culled",
            }
        )
    return rows


def inputs(step: int = 100, live: int = 0) -> PolicyInputs:
    return PolicyInputs(
        step=step,
        epoch=1,
        loss=1.0,
        loss_ewma=1.0,
        loss_trend=-0.05,
        accuracy=0.7,
        val_loss=1.0,
        grad_norm=None,
        step_ms=1.0,
        slots=[SlotState(f"block{i}", "vector", "DORMANT", True, 0) for i in range(2)],
        blueprints=BLUEPRINTS,
        seeds_germinated=0,
        max_seeds=4,
        live_seeds=live,
        conservative=False,
        val_accuracy=0.69,
        total_steps=400,
    )


@pytest.fixture
def weights_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(learned, "WEIGHTS_DIR", tmp_path)
    return tmp_path


def test_training_learns_the_planted_preference(weights_dir: Path) -> None:
    weights = train(planted_rows())
    cv = weights["trained"]["cross_validation"]
    assert cv["log_loss"] < cv["base_log_loss"]  # better than the base rate
    (weights_dir / "planted.json").write_text(json.dumps(weights))
    policy = load_policy("learned", {"weights": "planted"})
    decision = policy.decide(inputs())
    assert (decision.action, decision.slot, decision.blueprint) == (
        "germinate",
        "block1",
        "residual_mlp",
    )
    assert decision.figures["p"] > 0.5
    # Below the threshold it waits and says why; the hard rules still hold.
    strict = load_policy("learned", {"weights": "planted", "threshold": 0.99})
    assert strict.decide(inputs()).action == "wait"
    assert "predicted fossilisation" in strict.decide(inputs()).reason
    assert policy.decide(inputs(step=10)).reason.startswith("warming up")
    assert policy.decide(inputs(live=1)).action == "wait"


def test_weights_are_a_name_and_validated_json(weights_dir: Path) -> None:
    for bad in ("../etc/passwd", "/tmp/x", "a/b", "UPPER"):
        with pytest.raises(ValidationError):
            Morphogenesis(policy="learned", policy_options={"weights": bad})
        with pytest.raises(ValueError, match="plain name"):
            learned.weights_path(bad)
    with pytest.raises(FileNotFoundError):
        load_policy("learned", {"weights": "missing"})
    (weights_dir / "broken.json").write_text(
        json.dumps(
            {
                "format": learned.FORMAT,
                "format_version": 1,
                "features": ["a"],
                "weights": [],
                "bias": 0.0,
                "threshold": 0.5,
            }
        )
    )
    with pytest.raises(ValidationError, match="differ in length"):
        load_policy("learned", {"weights": "broken"})


def test_the_shipped_weights_load_and_decide() -> None:
    policy = load_policy("learned", {})
    decision = policy.decide(inputs())
    assert decision.action in ("wait", "germinate")
    assert "p" in decision.figures


def test_rows_join_decisions_with_the_seeds_fates() -> None:
    record = RunRecord(
        task="spirals",
        config="explore",
        seed=3,
        width=16,
        val_acc=0.9,
        params=1,
        train_flops=1,
        wall_s=1.0,
        curve=[],
        germinations=[
            {"step": 50, "slot": "block0", "seed_id": "1", "blueprint": "low_rank"},
            {"step": 90, "slot": "block1", "seed_id": "2", "blueprint": "norm"},
        ],
        stage_paths={"1": ["GERMINATED", "FOSSILIZED"], "2": ["GERMINATED", "CULLED"]},
        notes={
            "field_reports": [
                {
                    "decision_step": s,
                    "decision": {
                        "action": "germinate",
                        "slot": slot,
                        "blueprint": "x",
                        "figures": {"propensity": 0.1},
                    },
                    "inputs": summary(s, 0.5),
                    "outcome": "success",
                }
                for s, slot in ((50, "block0"), (90, "block1"), (95, "block0"))
            ]
        },
    )
    rows = list(dataset.rows_of(record))
    assert [(r["slot"], r["fate"], r["reward"]) for r in rows] == [
        ("block0", "fossilized", 1.0),
        ("block1", "culled", 0.0),
    ]  # step 95 planted nothing (G0 refused)
    assert rows[0]["propensity"] == 0.1 and rows[0]["rng_seed"] == 3
