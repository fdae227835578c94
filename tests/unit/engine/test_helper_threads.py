"""Engine helper threads run torch single-threaded and leave the training
thread's OpenMP setting alone (see workers/engine/helper_threads.py)."""

import torch

from workers.engine.blueprints import BlueprintCache
from workers.engine.helper_threads import helper_pool


def test_a_helper_thread_runs_torch_on_one_thread_only() -> None:
    before = torch.get_num_threads()
    with helper_pool(1, "test") as pool:
        assert pool.submit(torch.get_num_threads).result() == 1
    assert torch.get_num_threads() == before


def test_blueprint_builds_do_not_start_an_openmp_team() -> None:
    cache = BlueprintCache(workers=1)
    try:
        threads = cache._pool.submit(torch.get_num_threads).result()
        built = cache.take("residual_mlp", (512,), "cpu", timeout=30)
    finally:
        cache.close()
    assert threads == 1 and built.dry_run_ok
