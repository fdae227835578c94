"""A run's frozen reference cycles are collected once the run is over."""

import gc
import weakref

from workers.session import release_frozen


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_frozen_cycles_survive_collection_until_released() -> None:
    node = Node()
    alive = weakref.ref(node)
    gc.freeze()  # as RunSession._freeze_imports does mid-run
    try:
        del node
        gc.collect()
        assert alive() is not None  # frozen: the leak the soak found
        release_frozen()
        assert alive() is None
    finally:
        gc.unfreeze()  # leave the test process as it was
