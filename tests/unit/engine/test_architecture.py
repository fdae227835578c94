"""The architecture event and the parameter-count metric
(workers/engine/architecture.py) that the dashboard's architecture view and
parameter chart read."""

from pathlib import Path

from workers.engine.architecture import ARCHITECTURE, PARAMS, describe
from workers.engine.hosts import CNNHost, MLPHost

from .helpers import Script, run, spec


def test_describe_lists_blocks_slots_and_head() -> None:
    host = MLPHost(64, 16, 3, 10)
    info = describe(host)
    assert info["host"] == "mlp" and info["args"]["depth"] == 3
    assert [b["name"] for b in info["blocks"]] == ["block0", "block1", "block2"]
    first = info["blocks"][0]
    assert first["layers"] == ["Linear(64→16)", "ReLU"]
    assert first["params"] == 64 * 16 + 16 and first["slot"] == "block0"
    assert first["shape"] == [16]
    assert info["head"] == ["Linear(16→10)"] and info["head_params"] == 170
    assert (
        info["params"]
        == info["host_params"]
        == sum(p.numel() for p in host.parameters())
    )
    cnn = describe(CNNHost(3, 8, 2, 10, size=16))
    assert cnn["blocks"][0]["layers"][:2] == ["Conv2d(3→8, 3×3)", "BatchNorm2d(8)"]
    assert cnn["blocks"][1]["shape"] == [8, 8, 8]


def test_params_metric_follows_germination_and_cull(tmp_path: Path) -> None:
    """One architecture event at the start; the count rises by the seed's size
    when it germinates and falls back when it is culled, and is repeated only
    at the epoch's end."""
    script = Script()
    script.at(2, "seed_enable", slot="block0", blueprint="low_rank")
    script.at(6, "seed_disable", seed_id="seed-1")
    _, outcome = run(script, spec(), tmp_path)
    assert outcome.state == "completed", outcome.error
    (arch,) = script.named(ARCHITECTURE)
    host = arch["attrs"]["host_params"]
    assert arch["attrs"]["params"] == host and arch["step"] == 0
    assert [b["slot"] for b in arch["attrs"]["blocks"]] == ["block0", "block1"]
    # one epoch: the count again at its end
    counts = [(p["step"], p["value"]) for p in script.named(PARAMS)]
    changes = script.named("kasmina.seed.stage_changed")
    germinated = next(p for p in changes if p["value"] == "GERMINATED")
    seed = germinated["attrs"]["params"]
    assert seed > 0
    end = script.named("tolaria.validation.loss")[-1]["step"]
    assert counts == [(0, host), (2, host + seed), (6, host), (end, host)], counts


def test_params_metric_follows_a_rollback_that_removes_a_seed(
    tmp_path: Path,
) -> None:
    """A rollback to a snapshot taken before the seed was planted takes the
    seed's parameters away: the count falls back to the host's at the
    rollback's step, not at the next seed change or epoch end."""
    script = Script()
    script.at(2, "seed_enable", slot="block0", blueprint="low_rank")
    rollback = script.at(6, "rollback", checkpoint_id="snap-0")
    _, outcome = run(script, spec(epochs=1), tmp_path)
    assert outcome.state == "completed", outcome.error
    assert script.ack_for(rollback)[0] == "applied"
    (arch,) = script.named(ARCHITECTURE)
    host = arch["attrs"]["host_params"]
    (restored,) = script.named("kasmina.seeds.restored")
    counts = [(p["step"], p["value"]) for p in script.named(PARAMS)]
    seed = counts[1][1] - host
    assert seed > 0 and counts[:2] == [(0, host), (2, host + seed)], counts
    at, count = counts[2]
    assert count == host and 6 <= at <= restored["step"], counts
