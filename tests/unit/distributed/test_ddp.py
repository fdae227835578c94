"""DDP over 2 gloo ranks on CPU: identical ranks through growth, commands at the
same step, halt within one step, checkpoints written once and restored on 1 rank.
"""

import threading
import time
from pathlib import Path

from tests.unit.distributed.helpers import RankScript, assert_identical, run_ranks
from tests.unit.engine.helpers import spec
from workers.engine import checkpoints as ckpt
from workers.engine.hooks import Hooks
from workers.engine.trainer import Trainer

GROW = {
    "enabled": True,
    "max_seeds": 2,
    "policy": "tests.unit.distributed.policy:factory",
    # A loaded CI machine must not time the scripted decision out.
    "decision_deadline_ms": 1000.0,
}


def test_growth_by_command_and_by_policy_keeps_ranks_identical(tmp_path: Path) -> None:
    script = RankScript()
    enable = script.at(5, "seed_enable", slot="block0", blueprint="residual_mlp")
    outcome, dumps, _ = run_ranks(
        spec(devices=2, epochs=2, model={"width": 16, "depth": 2}, morphogenesis=GROW),
        tmp_path,
        script,
    )
    assert outcome.state == "completed", outcome.error
    assert script.ack_for(enable)[0] == "applied"
    kinds = [what for _, what, _ in dumps[0]["applied"]]
    assert kinds == ["seed_enable", "policy:germinate"]
    seed_params = [k for k in dumps[0]["params"] if ".seed." in k]
    assert {k.split(".")[1] for k in seed_params} == {"0", "1"}  # both slots grew
    assert_identical(dumps)
    # One telemetry stream: only rank 0's hooks saw packets, one per step.
    steps = [p["step"] for p in script.named("tolaria.training.loss")]
    assert steps == list(range(1, outcome.result["steps"] + 1))


def test_commands_apply_at_the_same_step_on_every_rank(tmp_path: Path) -> None:
    script = RankScript()
    script.at(4, "pause")
    script.at(4, "resume")
    script.at(7, "seed_enable", slot="block0", blueprint="low_rank")
    stop = script.at(15, "stop")
    outcome, dumps, _ = run_ranks(
        spec(devices=2, epochs=50, morphogenesis={"enabled": True, "max_seeds": 0}),
        tmp_path,
        script,
    )
    assert outcome.state == "cancelled"
    assert script.ack_for(stop)[0] == "applied"
    assert "paused" in script.states and script.states[-1] == "running"
    applied = dumps[0]["applied"]
    assert [what for _, what, _ in applied] == [
        "pause",
        "resume",
        "seed_enable",
        "stop",
    ]
    # Each is applied at the boundary after the step where rank 0 read it.
    assert all(
        step - at <= 1 for (step, _, _), at in zip(applied, [4, 4, 7, 15], strict=True)
    )
    assert_identical(dumps)


def test_emergency_halt_stops_every_rank_within_one_step(tmp_path: Path) -> None:
    script = RankScript()
    arrived: list[int] = []

    def halt_when_training() -> None:
        while script.step < 10:
            time.sleep(0.001)
        arrived.append(script.step)
        script.hooks.halt_info["reason"] = "test halt"
        script.hooks.halt.set()

    threading.Thread(target=halt_when_training, daemon=True).start()
    outcome, dumps, _ = run_ranks(spec(devices=2, epochs=1000), tmp_path, script)
    assert outcome.state == "halted" and outcome.halt_reason == "test halt"
    assert [d["state"] for d in dumps] == ["halted", "halted"]
    assert dumps[0]["step"] - arrived[0] <= 1
    assert_identical(dumps)


def test_checkpoints_are_written_once_and_restore_on_one_rank(tmp_path: Path) -> None:
    outcome, dumps, script = run_ranks(
        spec(devices=2, epochs=100, max_steps=30, checkpoint_every=10), tmp_path
    )
    assert outcome.state == "completed"
    found = ckpt.list_checkpoints(tmp_path / "ckpt")
    assert [m["step"] for m in found] == [10, 20, 30]
    assert sorted({c.step for c in script.checkpoints}) == [10, 20, 30]
    assert not list((tmp_path / "ckpt").glob(".tmp-*"))
    # The model bundle too: written by rank 0, reported once, at the last step.
    assert [(a.name, a.step) for a in script.artifacts] == [
        ("model.safetensors", 30),
        ("model.pt2", 30),
        ("model.json", 30),
    ]
    assert (tmp_path / "ckpt" / "model" / "model.json").is_file()
    state = ckpt.load_checkpoint(found[-1]["path"])
    for name, value in dumps[1]["params"].items():
        assert state["model"][name].cpu().equal(value), name

    single = Trainer(
        spec(epochs=100, max_steps=40),
        Hooks(),
        run_id="one",
        checkpoint_dir=tmp_path / "one",
        resume_from=found[-1]["path"],
    )
    resumed = single.run()
    assert resumed.state == "completed" and resumed.result["steps"] == 40
