"""CUDA graphs of the step, the parts that need no GPU: the fallback on CPU,
why a run cannot be captured, the architecture key and the capture plan (when
to warm up, capture, replay, capture again). The captures themselves are
tested on a GPU (tests/gpu/test_cuda_graphs.py)."""

from collections import defaultdict
from pathlib import Path

import pytest
import torch
from torch import nn

from api_schemas.enums import SeedStage
from tests.unit.engine.helpers import Script, run, spec
from workers.engine.cuda_graphs import FALLBACK, FALLBACKS, make_capturable
from workers.engine.graph_plan import (
    BLENDING,
    Action,
    Key,
    Plan,
    architecture_key,
    graphs_requested,
    unsupported,
)
from workers.engine.seeds.slot import SeedSlot, SeedWrapper

S = SeedStage
A, B, C = ("A",), ("B",), ("C",)  # architecture keys
CUDA = torch.device("cuda")


def test_on_cpu_it_is_a_reported_fallback_and_training_is_unchanged(
    tmp_path: Path,
) -> None:
    runs = []
    for graphs in (True, False):
        script = Script()
        run_spec = spec(
            model={"width": 16, "options": {"cuda_graphs": graphs}}, max_steps=6
        )
        trainer, outcome = run(script, run_spec, tmp_path / str(graphs))
        assert outcome.state == "completed", outcome.error
        runs.append((trainer, outcome, script))
    (graphed, outcome, script), (eager, _, plain) = runs
    fallbacks = script.named(FALLBACK)
    assert len(fallbacks) == 1 and fallbacks[0]["level"] == "info"
    assert fallbacks[0]["attrs"]["reason"].startswith("device is cpu")
    assert [p["value"] for p in script.named(FALLBACKS)] == [1.0]
    assert outcome.result["cuda_graphs"] == {
        "requested": True,
        "active": False,
        "captures": 0,
        "replays": 0,
        "eager_steps": 0,
    }
    assert graphed.metrics.losses == eager.metrics.losses
    assert not plain.named(FALLBACK)  # not asked for: nothing said


def test_requested_only_by_a_true_option() -> None:
    assert graphs_requested({"cuda_graphs": True})
    assert graphs_requested({"cuda_graphs": "true"})
    assert not graphs_requested({"cuda_graphs": False})
    assert not graphs_requested({})


def _adam() -> torch.optim.Adam:
    return torch.optim.Adam([nn.Parameter(torch.zeros(2))], lr=0.1)


def test_why_a_run_cannot_be_captured() -> None:
    good = {
        "device": CUDA,
        "distributed": False,
        "compiled": False,
        "deferred_reads": True,
        "optimizer": _adam(),
    }
    assert unsupported(**good) is None  # type: ignore[arg-type]
    cases = {
        "device": (torch.device("cpu"), "device is cpu"),
        "distributed": (True, "DDP"),
        "compiled": (True, "compile"),
        "deferred_reads": (False, "deferred reads are off"),
        "optimizer": (
            torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.1),
            "SGD is not a capturable Adam",
        ),
    }
    for name, (value, why) in cases.items():
        reason = unsupported(**{**good, name: value})  # type: ignore[arg-type]
        assert reason is not None and why in reason, (name, reason)
    pcgrad = unsupported(**good, aggregation="pcgrad")  # type: ignore[arg-type]
    assert pcgrad is not None and "pcgrad" in pcgrad


def _slots() -> dict[str, SeedSlot]:
    slots = {name: SeedSlot(name, (8,)) for name in ("a", "b")}
    for slot in slots.values():
        slot.set_stage(S.DORMANT)
    return slots


def _seed() -> SeedWrapper:
    return SeedWrapper(nn.Linear(8, 8), 8)


def test_the_key_changes_with_every_architecture_change() -> None:
    model, slots, optimizer = nn.Linear(8, 8), _slots(), _adam()
    keys = []

    def key() -> object:
        found, reason = architecture_key(slots, optimizer, model)
        assert reason is None
        keys.append(found)
        return found

    first = key()
    assert key() == first  # nothing changed: the graph is replayed
    slot = slots["a"]
    slot.set_stage(S.GERMINATED)
    slot.attach(_seed())  # a seed attached
    key()
    slot.set_stage(S.TRAINING)  # a stage change picks another forward
    key()
    optimizer.add_param_group({"params": slot.seed_parameters(), "owner": "s1"})
    key()
    optimizer.param_groups[0]["lr"] = 0.05  # a constant inside the graph
    key()
    optimizer.state = defaultdict(dict, optimizer.state)  # an in-place restore
    key()
    optimizer = _adam()  # a rebuilt optimizer (a restore of other groups)
    key()
    slot.attach(_seed())  # a rollback rebuilds the seed's module
    key()
    model.eval()
    key()
    assert len(set(map(repr, keys[1:]))) == len(keys) - 1, "a change kept its key"


def test_a_blending_seed_is_not_captured_and_after_it_the_key_is_stable() -> None:
    model, slots, optimizer = nn.Linear(8, 8), _slots(), _adam()
    slot = slots["b"]
    for stage in (S.GERMINATED, S.TRAINING, S.BLENDING):
        slot.set_stage(stage)
    slot.attach(_seed())
    slot.alpha = 0.3
    assert architecture_key(slots, optimizer, model) == (None, BLENDING)
    slot.set_stage(S.SHADOWING)
    slot.alpha = 1.0
    shadowing, reason = architecture_key(slots, optimizer, model)
    assert reason is None and architecture_key(slots, optimizer, model)[0] == shadowing
    slot.set_stage(S.PROBATIONARY)
    assert architecture_key(slots, optimizer, model)[0] != shadowing


def _steps(plan: Plan, keys: list[Key | None], fits: bool = True) -> list[str]:
    out = []
    for key in keys:
        if key is None:
            action = plan.decide(None, BLENDING, fits)
        else:
            action = plan.decide(key, None, fits)
        if action is Action.CAPTURE:
            plan.capture_done(True)
        out.append(action.value[0])  # e(ager) w(armup) c(apture) r(eplay)
    return out


def test_the_plan_warms_up_captures_replays_and_captures_again() -> None:
    plan = Plan(warmup=2)
    # A: warm-up twice, capture, replay; B (a seed attached): again; a
    # blending stretch runs eagerly; C after it: captured anew.
    keys: list[Key | None] = [A] * 5 + [B] * 4 + [None] * 3 + [C] * 4
    assert "".join(_steps(plan, keys)) == "wwcrr" + "wwcr" + "eee" + "wwcr"
    assert plan.changes == 3 and plan.reason is None


def test_other_batch_sizes_run_eagerly_and_keep_the_graph() -> None:
    plan = Plan(warmup=1)
    assert "".join(_steps(plan, [A] * 3)) == "wcr"
    assert _steps(plan, [A], fits=False) == ["e"]  # the epoch's short batch
    assert _steps(plan, [A]) == ["r"]  # the same graph, no new capture


def test_a_failed_capture_stays_eager_until_the_architecture_changes() -> None:
    plan = Plan(warmup=1)
    assert plan.decide(A, None, True) is Action.WARMUP
    assert plan.decide(A, None, True) is Action.CAPTURE
    plan.capture_done(False)
    assert [plan.decide(A, None, True) for _ in range(3)] == [Action.EAGER] * 3
    assert plan.decide(B, None, True) is Action.WARMUP  # tried again


def test_make_capturable_covers_groups_added_later() -> None:
    param = nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.Adam([param], lr=0.1)
    param.grad = torch.ones(2)
    optimizer.step()
    make_capturable(optimizer)
    assert optimizer.param_groups[0]["capturable"] is True
    step = optimizer.state[param]["step"]
    assert step.device == param.device and step.dtype == torch.float32
    optimizer.add_param_group({"params": [nn.Parameter(torch.zeros(3))]})
    assert optimizer.param_groups[1]["capturable"] is True


@pytest.mark.parametrize("value", [True, False])
def test_the_option_is_accepted_by_the_spec(value: bool) -> None:
    run_spec = spec(model={"width": 16, "options": {"cuda_graphs": value}})
    assert run_spec.model.options["cuda_graphs"] is value
