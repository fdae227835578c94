"""The growth experiment's arithmetic, on hand-made records (no training)."""

from typing import Any

import pytest

from experiments.growth import document, report
from experiments.growth.experiment import Results, Settings, grown_configs
from experiments.growth.plans import PLANS, host_params, matching_width
from experiments.growth.record import CurvePoint, RunRecord
from experiments.growth.summary import (
    config_row,
    converged_step,
    flops_to_target,
    germination_timing,
    mean_curve,
)


def curve(accs: list[float], flops_per_epoch: int = 100) -> list[CurvePoint]:
    return [
        CurvePoint(10 * (i + 1), i + 1, flops_per_epoch * (i + 1), acc, 50)
        for i, acc in enumerate(accs)
    ]


def record(config: str, seed: int, accs: list[float], **extra: Any) -> RunRecord:
    points = curve(accs, extra.pop("flops_per_epoch", 100))
    return RunRecord(
        task="spirals",
        config=config,
        seed=seed,
        width=16,
        val_acc=accs[-1],
        params=extra.pop("params", 50),
        train_flops=points[-1].flops,
        wall_s=1.0,
        curve=points,
        **extra,
    )


def test_flops_to_target_is_the_first_validation_at_or_over_it() -> None:
    points = curve([0.5, 0.8, 0.79, 0.9])
    assert flops_to_target(points, 0.8) == 200
    assert flops_to_target(points, 0.95) is None
    # A validation without a FLOPs reading cannot count.
    missing = [CurvePoint(1, 1, None, 0.9, 5), *curve([0.5, 0.9])]
    assert flops_to_target(missing, 0.85) == 200


def test_mean_curve_averages_validation_by_validation() -> None:
    runs = [
        record("grown", 0, [0.4, 0.8], flops_per_epoch=100),
        record("grown", 1, [0.6, 1.0], flops_per_epoch=300),
    ]
    mean = mean_curve(runs)
    assert [p.val_acc for p in mean] == pytest.approx([0.5, 0.9])
    assert [p.flops for p in mean] == [200, 400]


def test_config_row_has_the_benchmark_keys() -> None:
    runs = [
        record("grown", s, [0.5, a], seeds={"germinated": 2, "fossilized": 1})
        for s, a in enumerate([0.9, 0.8, 1.0])
    ]
    row = config_row(runs, target=0.85)
    assert row["val_acc_mean"] == pytest.approx(0.9)
    assert row["val_acc_sd"] == pytest.approx(0.1)
    assert (row["val_acc_min"], row["val_acc_max"]) == (0.8, 1.0)
    assert row["germinated"] == 6 and row["fossilised"] == 3 and row["culled"] == 0
    assert row["flops_to_target"] == 200  # the mean curve reaches 0.9 at epoch 2
    assert row["flops_to_target_per_seed"] == [200, None, 200]
    assert row["seeds"] == [0, 1, 2] and row["train_flops"] == 200


def test_matching_width_picks_the_nearest_parameter_count() -> None:
    def square(width: int) -> int:
        return width * width

    assert matching_width(50, square) == 7  # 49 beats 64
    assert matching_width(60, square) == 8  # 64 beats 49
    assert matching_width(1, square) == 1


def test_host_params_counts_the_task_host() -> None:
    # spirals' MLP: 2 -> 16 -> 16 -> 3, with biases.
    assert host_params(PLANS["spirals"], 16) == 2 * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3
    width = matching_width(1000, lambda w: host_params(PLANS["spirals"], w))
    assert abs(host_params(PLANS["spirals"], width) - 1000) <= abs(
        host_params(PLANS["spirals"], width + 1) - 1000
    )


def test_converged_step_uses_the_running_best() -> None:
    # Best within 0.01 of its final best from the third validation on; the
    # dip at the fourth does not move it.
    assert converged_step(curve([0.5, 0.8, 0.91, 0.7, 0.915])) == 30
    assert converged_step([]) == 0


def test_germination_timing_places_each_germination_on_the_small_run() -> None:
    small = [record("static_small", 0, [0.5, 0.8, 0.8, 0.8])]
    grown = [
        record(
            "grown",
            0,
            [0.5, 0.9],
            germinations=[{"step": 15, "epoch": 1}, {"step": 35, "epoch": 3}],
        )
    ]
    early, late = germination_timing(grown, small)
    assert early["small_acc_fraction"] == pytest.approx(0.5 / 0.8)
    assert early["after_convergence"] is False
    assert late["after_convergence"] is True


def fake_results() -> Results:
    results = Results()
    for seed in range(3):
        results.add(record("static_small", seed, [0.5, 0.7 + 0.01 * seed]))
        results.add(
            record(
                "grown",
                seed,
                [0.6, 0.9, 0.95],
                params=80,
                seeds={"germinated": 1, "fossilized": 1},
                germinations=[{"step": 5, "epoch": 0, "slot": "block0"}],
            )
        )
        results.add(record("static_final", seed, [0.7, 0.9, 0.96], params=80))
        results.add(record("static_large", seed, [0.8, 0.97, 0.98], params=400))
        results.add(
            record(
                "harmful",
                seed,
                [0.4],
                stage_paths={"seed-1": ["GERMINATED", "TRAINING", "CULLED"]},
            )
        )
    return results


def test_document_has_the_benchmarks_json_shape_and_the_goals() -> None:
    meta = {
        "command": "python -m experiments.growth",
        "machine": "test",
        "date": "today",
        "commit": "abc",
        "total_s": 1.0,
        "settings": {"loose_timing": False, "workers": 1},
    }
    doc = document.build(fake_results(), meta)
    rows = doc["tasks"]["spirals"]
    assert list(rows) == ["static_small", "grown", "static_final", "static_large"]
    for row in rows.values():
        for key in ("val_acc_mean", "val_acc_sd", "params", "train_flops"):
            assert key in row
        assert row["wall_s"] == 1.0 and row["seeds"] == [0, 1, 2]
    grown = rows["grown"]
    assert (grown["germinated"], grown["fossilised"], grown["culled"]) == (3, 3, 0)
    # Target: static_final's mean 0.96 - 0.003; the grown mean curve gets
    # there at its third validation only, static_final at its third too.
    assert grown["flops_to_target"] is None
    assert rows["static_final"]["flops_to_target"] == 300
    goals = doc["goals"]["spirals"]
    assert goals["within_0.3_points"] is False
    assert goals["beats_small_2sd"] is True
    assert goals["germinated_after_convergence"] == 0
    assert doc["goals"]["harmful"] == {"culled_every_seed": True, "seeds": 3}
    text = report.render(doc)
    assert "| grown | 16 | 80 | 0.950 ± 0.000" in text


def test_variants_are_grown_with_one_setting_changed_and_paired_by_seed() -> None:
    settings = Settings(
        tasks=("spirals",), seeds=(0, 1), aggregation="both", policy="both", max_live=2
    )
    configs = grown_configs(settings)
    assert set(configs) == {"grown", "grown_pcgrad", "grown_learned"}
    assert configs["grown_pcgrad"] == {
        **configs["grown"],
        "gradient_aggregation": "pcgrad",
    }
    assert configs["grown"]["policy_options"] == {"max_live": 2}
    assert configs["grown_learned"]["policy"] == "learned"
    assert configs["grown_learned"]["policy_options"]["max_live"] == 2
    runs = {
        "grown": [record("grown", 0, [0.5, 0.8]), record("grown", 1, [0.5, 0.9])],
        "grown_pcgrad": [
            record("grown_pcgrad", 0, [0.5, 0.82], notes={"split_steps": 5}),
            record("grown_pcgrad", 1, [0.5, 0.9], notes={"conflicts": 2}),
        ],
    }
    compared = document.variants(runs)["grown_pcgrad"]
    assert compared["acc_diff_points"] == pytest.approx(1.0)
    assert compared["acc_diff_se_points"] == pytest.approx(1.0)
    assert (compared["wins"], compared["ties"]) == (1, 1)
    assert (compared["split_steps"], compared["conflicts"]) == (5, 2)
