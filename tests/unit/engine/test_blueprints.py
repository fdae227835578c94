import time

import pytest
import torch

from api_schemas.catalogue import BLUEPRINTS, BlueprintRead
from workers.engine.blueprints import BlueprintCache, build_seed, fits

SHAPES = {"vector": (16,), "image": (8, 6, 6), "sequence": (8, 12)}


@pytest.mark.parametrize("entry", BLUEPRINTS, ids=lambda b: b.name)
def test_every_catalogue_entry_builds_for_each_slot_kind(entry: BlueprintRead) -> None:
    for kind, shape in SHAPES.items():
        assert fits(entry, shape) == (kind in entry.slot_kinds)
        if not fits(entry, shape):
            continue
        built = build_seed(entry.name, shape, "cpu")
        assert built.dry_run_ok, built.dry_run_error
        assert built.params > 0
        out = built.module(torch.randn(3, *shape))
        assert out.shape == (3, *shape)


def test_builds_are_deterministic_per_seed() -> None:
    a = build_seed("residual_mlp", (8,), "cpu", seed=3).module
    b = build_seed("residual_mlp", (8,), "cpu", seed=3).module
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_cache_prefetches_hands_over_and_refills() -> None:
    cache = BlueprintCache(workers=2)
    try:
        cache.prefetch("low_rank", (8,), "cpu")
        first = cache.take("low_rank", (8,), "cpu", timeout=10)
        second = cache.take("low_rank", (8,), "cpu", timeout=10)
        assert first.module is not second.module
        assert cache.size() == 1  # refilled after each take
        assert cache.clear() == 1 and cache.size() == 0
    finally:
        cache.close()


def test_an_injected_ready_latency_is_a_floor_the_build_runs_inside() -> None:
    cache = BlueprintCache(build_delay_s=0.2)
    try:
        started = time.perf_counter()
        built = cache.take("low_rank", (24,), "cpu", timeout=10)
        waited = time.perf_counter() - started
    finally:
        cache.close()
    assert waited >= 0.2  # never ready before the injected latency
    assert built.dry_run_ok and built.build_ms > 0
