"""torch.compile of the host: blocks compiled, slots left eager, so seeds
germinate without recompiling the host (backend "eager" keeps this fast)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.unit.engine.helpers import Script, run, spec
from workers.engine.hosts import MLPHost
from workers.engine.options import EngineOptions
from workers.engine.runtime import compile_host

GRAPHS: list[int] = []


def count(gm: torch.fx.GraphModule, inputs: list[torch.Tensor]) -> Callable[..., Any]:
    """A backend that records each graph it is given and runs it as traced."""
    GRAPHS.append(len(gm.graph.nodes))
    return gm.forward


# Dynamo's tracing touches .grad of non-leaf tensors, which warns.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_compile_host_skips_slots_and_keeps_state_dict_keys() -> None:
    host = MLPHost(4, 8, 2, 3)
    keys = list(host.state_dict())
    compiled = compile_host(host, backend="eager")
    assert compiled == ["blocks.0", "blocks.1", "head"]
    assert list(host.state_dict()) == keys
    assert host(torch.randn(5, 4)).shape == (5, 3)


def _compiled_run(tmp_path: Path, seeds: int) -> int:
    import torch._dynamo

    torch._dynamo.reset()
    GRAPHS.clear()
    script = Script()
    for i in range(seeds):
        script.at(3 + 3 * i, "seed_enable", slot=f"block{i}", blueprint="low_rank")
    run_spec = spec(
        epochs=1,
        max_steps=12,
        model={"width": 16, "options": {"compile": True}},
    )
    options = EngineOptions(compile_backend=count)
    t, outcome = run(script, run_spec, tmp_path, options=options)
    assert outcome.state == "completed", outcome.error
    assert t.parts.compiled
    assert t.parts.seeds is not None and t.parts.seeds.counts["germinated"] == seeds
    return len(GRAPHS)


def test_compiled_run_grows_a_seed_without_recompiling_the_host(
    tmp_path: Path,
) -> None:
    # The first seed's G2 probe (a no_grad forward in train mode) compiles
    # each block once more, once per run; a further seed compiles nothing.
    one = _compiled_run(tmp_path / "one", seeds=1)
    two = _compiled_run(tmp_path / "two", seeds=2)
    assert one > 0
    assert two == one
