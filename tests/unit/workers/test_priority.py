"""The training thread's nice value is raised for that thread alone."""

import os
import sys
import threading
from pathlib import Path

import pytest

from workers.priority import lower_this_thread

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's"
)


def _nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


@linux_only
def test_only_the_calling_thread_is_lowered() -> None:
    seen: dict[str, int | None] = {}
    reader_tid = threading.get_native_id()  # stands for the command reader
    before = _nice_of(reader_tid)

    def train() -> None:
        seen["returned"] = lower_this_thread(max(before, 15))
        seen["own"] = _nice_of(threading.get_native_id())
        child = threading.Thread(
            target=lambda: seen.update(child=_nice_of(threading.get_native_id()))
        )
        child.start()  # started by the training thread: inherits its value
        child.join()

    trainer = threading.Thread(target=train)
    trainer.start()
    trainer.join()
    assert seen["returned"] == seen["own"] == max(before, 15)
    assert seen["child"] == max(before, 15)
    assert _nice_of(reader_tid) == before  # the other threads keep theirs


def test_zero_leaves_the_thread_alone() -> None:
    result: list[int | None] = []
    thread = threading.Thread(target=lambda: result.append(lower_this_thread(0)))
    thread.start()
    thread.join()
    assert result == [None]


def test_only_the_all_in_one_stack_lowers_training_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli.localenv import local_env
    from workers.settings import WorkerSettings

    monkeypatch.delenv("ESPER_TRAINING_NICE", raising=False)
    assert WorkerSettings().training_nice == 0  # a dedicated worker host
    assert local_env(tmp_path)["ESPER_TRAINING_NICE"] == "15"  # esper up
    monkeypatch.setenv("ESPER_TRAINING_NICE", "3")
    assert local_env(tmp_path)["ESPER_TRAINING_NICE"] == "3"  # the user's wins
