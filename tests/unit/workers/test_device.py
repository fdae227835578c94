"""Device strings: resolution on this machine and which runs a worker may take."""

import pytest
import torch

from workers.device import (
    DeviceError,
    can_serve,
    cpu_threads,
    describe,
    resolve,
    train_device,
)

HAS_CUDA = torch.cuda.is_available()


def test_cpu_resolves_to_cpu() -> None:
    assert resolve("cpu") == "cpu"


def test_auto_picks_the_first_gpu_or_the_cpu() -> None:
    assert resolve("auto") == ("cuda:0" if HAS_CUDA else "cpu")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "CPU", "", "cuda:123"])
def test_malformed_device_strings_are_refused(bad: str) -> None:
    with pytest.raises(DeviceError, match="unknown device"):
        resolve(bad)


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA; the refusal needs none")
@pytest.mark.parametrize("wanted", ["cuda", "cuda:0"])
def test_cuda_is_refused_without_a_gpu(wanted: str) -> None:
    with pytest.raises(DeviceError, match="CUDA is not available"):
        resolve(wanted)


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_a_gpu_index_past_the_last_is_refused() -> None:
    with pytest.raises(DeviceError, match="GPU"):
        resolve(f"cuda:{torch.cuda.device_count()}")


def test_describe_cpu() -> None:
    assert describe("cpu")["device_name"] == "cpu"


@pytest.mark.parametrize(
    ("worker", "wanted", "ok"),
    [
        ("cpu", "cpu", True),
        ("cpu", "auto", True),
        ("cpu", "cuda", False),
        ("cpu", "cuda:0", False),
        ("cuda:0", "cuda", True),
        ("cuda:0", "cuda:0", True),
        ("cuda:1", "cuda:0", False),
        ("cuda:1", "cpu", True),
        ("cuda:1", "auto", True),
    ],
)
def test_can_serve(worker: str, wanted: str, ok: bool) -> None:
    assert can_serve(worker, wanted) is ok


def test_a_cpu_run_trains_on_the_cpu_even_on_a_gpu_worker() -> None:
    assert train_device("cuda:0", "cpu") == "cpu"
    assert train_device("cuda:0", "auto") == "cuda:0"


@pytest.mark.parametrize(
    ("cores", "configured", "threads"),
    [(2, None, 1), (16, None, 8), (3, None, 1), (1, None, 1), (16, 4, 4), (16, 0, 1)],
)
def test_cpu_training_leaves_half_the_cores_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, cores: int, configured: int | None, threads: int
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert cpu_threads(configured) == threads
