"""`python -m experiments.growth` end to end, tiny: spirals, one RNG seed, two
epochs, in this process (`--workers 1`). It checks that the command trains
every config and writes the summary, the page and the figure, not the figures."""

import json
from pathlib import Path

from experiments.growth.__main__ import main


def test_growth_experiment_writes_its_summary(tmp_path: Path) -> None:
    args = ["--tasks", "spirals", "--seeds", "1", "--epochs-scale", "0.1"]
    main([*args, "--workers", "1", "--out", str(tmp_path)])
    doc = json.loads((tmp_path / "growth.json").read_text())
    rows = doc["tasks"]["spirals"]
    assert set(rows) == {
        "static_small",
        "grown",
        "static_final",
        "static_large",
        "peer_gromo",
    }
    assert all(row["seeds"] == [0] for row in rows.values())
    assert len(rows["grown"]["curve"]) == 2  # one validation per epoch
    assert rows["peer_gromo"]["train_flops"] > 0
    assert "flops_to_target" in rows["grown"]
    assert len(doc["harmful"]) == 1
    page = (tmp_path / "growth.md").read_text()
    assert page.startswith("# Growth experiment")
    assert (tmp_path / "growth.png").stat().st_size > 0
