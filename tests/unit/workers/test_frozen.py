"""torch's lazy imports are frozen at a run's milestones, and a run's frozen
reference cycles are collected once the run is over (workers/frozen.py)."""

import gc
import weakref

import pytest

from workers.frozen import ImportFreezer, release_frozen


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_frozen_cycles_survive_collection_until_released() -> None:
    node = Node()
    alive = weakref.ref(node)
    gc.freeze()  # as ImportFreezer does mid-run
    try:
        del node
        gc.collect()
        assert alive() is not None  # frozen: the leak the soak found
        release_frozen()
        assert alive() is None
    finally:
        gc.unfreeze()  # leave the test process as it was


def test_the_freezer_freezes_once_per_milestone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    freezes: list[tuple[int, int]] = []
    freezer = ImportFreezer()
    progress = [(0, 0), (1, 0), (7, 0), (40, 1), (41, 1), (90, 2)]
    for step, epoch in progress:
        monkeypatch.setattr(gc, "freeze", lambda: freezes.append((step, epoch)))  # noqa: B023
        freezer.progressed(step, epoch)
    # the first step, then the first epoch end: never again
    assert freezes == [(1, 0), (40, 1)]
