"""GPU tests: marked `gpu`; each skips with its reason where CUDA is absent."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "gpu: needs a CUDA device (skipped where none is present)"
    )
