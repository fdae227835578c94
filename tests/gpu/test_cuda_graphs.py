"""CUDA graphs of the training step (workers/engine/cuda_graphs.py) on a GPU:
a graphed run trains as the eager one does (same losses from the same seed),
re-captures when a seed attaches and after a rollback, honours a halt before
a replay, and falls back to eager, with the reason, when a capture fails."""

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.unit.engine.helpers import Script, spec
from workers.engine.cuda_graphs import CAPTURED, FALLBACK, FALLBACKS
from workers.engine.options import EngineOptions
from workers.engine.trainer import Trainer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="CUDA is not available here (CI is CPU-only); run on a GPU machine",
    ),
]

SEEDS = {
    "enabled": True,
    "max_seeds": 0,  # placed by command; the policy stays idle
    "gates": {"min_training_steps": 10, "g4_max_step_overhead": 100.0},
    "blend_steps": 10,
}


def _spec(graphs: bool, **overrides: Any) -> Any:
    base: dict[str, Any] = {
        "task": "digits",
        "epochs": 1000,
        "max_steps": 80,
        "batch_size": 128,
        "device": "cuda",
        "model": {"width": 128, "options": {"cuda_graphs": graphs}},
        "checkpoint_every": 10**6,
    }
    base.update(overrides)
    return spec(**base)


def _run(
    run_spec: Any, tmp_path: Path, script: Script | None = None, **options: Any
) -> tuple[Trainer, Any, Script]:
    script = script or Script()
    trainer = Trainer(
        run_spec,
        script.hooks,
        run_id="gpu-graphs",
        checkpoint_dir=tmp_path / "ckpt",
        device="cuda",
        options=EngineOptions(**options),
    )
    script.trainer = trainer
    return trainer, trainer.run(), script


def _both(
    tmp_path: Path, commands: list[tuple[int, str, dict[str, Any]]], **kw: Any
) -> tuple[tuple[Trainer, Any, Script], tuple[Trainer, Any, Script]]:
    """The same spec eager and graphed, with the same commands at the same steps."""
    runs = []
    options = kw.pop("options", {})
    for graphs in (False, True):
        script = Script()
        for step, kind, params in commands:
            script.at(step, kind, **params)
        runs.append(
            _run(_spec(graphs, **kw), tmp_path / str(graphs), script, **options)
        )
    return runs[0], runs[1]


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_replay_trains_as_eager_does(tmp_path: Path, precision: str) -> None:
    options = {"mixed_precision": precision == "bf16"}
    (eager, e_out, _), (graphed, g_out, script) = _both(tmp_path, [], options=options)
    assert e_out.state == g_out.state == "completed", (e_out.error, g_out.error)
    report = g_out.result["cuda_graphs"]
    # Two warm-up steps; each epoch's short last batch (1437 = 11 x 128 + 29)
    # runs eagerly; every other step is a replay (the capture's included).
    assert report["captures"] == 1 and report["eager_steps"] == 6, report
    assert report["replays"] == 80 - 2 - 6, report
    assert not script.named(FALLBACK)
    assert len(script.named(CAPTURED)) == 1
    losses_e, losses_g = eager.metrics.losses, graphed.metrics.losses
    assert len(losses_e) == len(losses_g) == 80
    # The same kernels; Adam's capturable mode computes its bias corrections
    # on the device (float32) rather than the host, hence not bitwise.
    rel, atol = (5e-3, 1e-4) if precision == "bf16" else (1e-4, 1e-6)
    assert losses_g == pytest.approx(losses_e, rel=rel, abs=atol)
    for p, q in zip(
        eager.parts.model.parameters(), graphed.parts.model.parameters(), strict=True
    ):
        torch.testing.assert_close(p, q, rtol=rel, atol=atol * 10)
    # FLOPs accounting does not depend on how the step runs.
    assert g_out.result["train_flops"] == e_out.result["train_flops"] > 0
    capture_ms = script.named("tolaria.graph.capture_ms")
    assert len(capture_ms) == 1 and capture_ms[0]["value"] > 0
    assert script.named("tolaria.graph.replay_ms")  # every EMIT_EVERY replays
    print(
        f"{precision}: capture {capture_ms[0]['value']:.1f} ms, "
        f"replay {script.named('tolaria.graph.replay_ms')[-1]['value']:.4f} ms host, "
        f"stage copy {script.named('tolaria.graph.stage_copy_ms')}"
    )


def test_a_seed_attaching_recaptures_and_isolation_holds(tmp_path: Path) -> None:
    """A seed enabled at step 20 on each slot: the graph is captured again for
    each architecture the seeds pass through (GERMINATED, TRAINING, after the
    blend); BLENDING runs eagerly (its alpha changes every step); losses match
    the eager run's with the same commands, and G1 saw no violation."""
    commands = [
        (20, "seed_enable", {"slot": name, "blueprint": "residual_mlp"})
        for name in ("block0", "block1")
    ]
    (eager, e_out, e_script), (graphed, g_out, script) = _both(
        tmp_path, commands, max_steps=200, morphogenesis=SEEDS
    )
    assert e_out.state == g_out.state == "completed", (e_out.error, g_out.error)
    captures = script.named(CAPTURED)
    report = g_out.result["cuda_graphs"]
    assert report["captures"] == len(captures) >= 3, report
    first, later = captures[0], captures[1:]
    assert first["attrs"]["seeds"] == {} and first["step"] < 20
    assert any(c["attrs"]["seeds"].get("block0") == "TRAINING" for c in later)
    assert all(c["attrs"]["pool_reused"] for c in later)
    stages = [p["attrs"]["to"] for p in script.named("kasmina.seed.stage_changed")]
    assert stages == [
        p["attrs"]["to"] for p in e_script.named("kasmina.seed.stage_changed")
    ]
    assert "BLENDING" in stages, stages
    paused = [p for p in script.named(FALLBACK) if p["attrs"]["transient"]]
    assert paused and "blending" in paused[0]["attrs"]["reason"]
    assert not [p for p in script.named(FALLBACK) if not p["attrs"]["transient"]]
    assert g_out.result["isolation_violations"] == 0
    assert g_out.result["train_flops"] == e_out.result["train_flops"]
    samples = graphed.parts.seeds.monitor.samples
    assert samples > 0  # G1 read isolation samples taken inside replays
    assert graphed.metrics.losses == pytest.approx(
        eager.metrics.losses, rel=1e-2, abs=1e-3
    )
    print("captures:", [(c["step"], c["attrs"]["seeds"]) for c in captures])


def test_rollback_recaptures_after_restoring(tmp_path: Path) -> None:
    commands: list[tuple[int, str, dict[str, Any]]] = [(40, "rollback", {})]
    (eager, e_out, _), (graphed, g_out, script) = _both(
        tmp_path, commands, max_steps=90, options={"snapshot_every": 25}
    )
    assert e_out.state == g_out.state == "completed", (e_out.error, g_out.error)
    restored = script.named("tolaria.rollback.restored")
    assert restored, "the rollback command was not carried out"
    captures = script.named(CAPTURED)
    assert len(captures) == 2, [c["step"] for c in captures]
    assert captures[1]["step"] >= restored[0]["step"] - 1
    assert graphed.metrics.losses == pytest.approx(
        eager.metrics.losses, rel=1e-3, abs=1e-4
    )


def test_a_halt_before_a_replay_makes_no_update(tmp_path: Path) -> None:
    script = Script()
    trainer = Trainer(
        _spec(True),
        script.hooks,
        run_id="gpu-graphs",
        checkpoint_dir=tmp_path / "ckpt",
        device="cuda",
    )
    script.trainer = trainer
    trainer._setup()
    try:
        batches = trainer._epoch_batches()
        for index in batches[:5]:  # warm-up, capture, replays
            assert trainer._train_step(index)
        assert trainer.graphs.replays >= 2
        # Replays make no host sync (checked on steps short of a read-back).
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("error")
            try:
                for index in batches[5:8]:
                    assert trainer._train_step(index)
            finally:
                torch.cuda.set_sync_debug_mode(0)
        before = [p.detach().clone() for p in trainer.parts.model.parameters()]
        step = trainer.state.step
        trainer.hooks.halt.set()
        assert not trainer._train_step(batches[8])
        torch.cuda.synchronize()
        assert trainer.state.step == step and trainer.state.halt_seen_step == step
        for p, q in zip(before, trainer.parts.model.parameters(), strict=True):
            assert torch.equal(p, q)
    finally:
        trainer._close()


def test_a_failed_capture_falls_back_to_eager_with_its_reason(tmp_path: Path) -> None:
    run_spec = _spec(
        True,
        task="tests.gpu.sync_task:factory",
        batch_size=64,
        max_steps=30,
        model={"width": 32, "options": {"cuda_graphs": True}},
    )
    trainer, outcome, script = _run(run_spec, tmp_path)
    assert outcome.state == "completed", outcome.error
    fallbacks = script.named(FALLBACK)
    assert len(fallbacks) == 1, fallbacks
    assert fallbacks[0]["level"] == "warning"
    assert "capture failed" in fallbacks[0]["attrs"]["reason"]
    assert [p["value"] for p in script.named(FALLBACKS)] == [1.0]
    assert outcome.result["cuda_graphs"]["captures"] == 0
    losses = trainer.metrics.losses
    assert len(losses) == 30 and all(loss == loss for loss in losses)
    print("fallback reason:", fallbacks[0]["attrs"]["reason"][:200])
