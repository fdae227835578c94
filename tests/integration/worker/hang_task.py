"""A user task whose host hangs mid-step, as a stuck GPU kernel would.

Loaded by the worker subprocess through the spec's `task` import path:
`tests.integration.worker.hang_task:factory`. The host's forward sleeps (far
longer than any test) from its `hang_after`-th training call on.
"""

import time
from typing import Any

from workers.engine.tasks import Task, TaskOptions, digits_task


def factory(opts: TaskOptions) -> Task:
    task = digits_task(opts)
    hang_after = int(opts.options.get("hang_after", 10))
    forward = task.host.forward
    calls = {"n": 0}

    def hanging_forward(*args: Any, **kwargs: Any) -> Any:
        if task.host.training:
            calls["n"] += 1
            if calls["n"] >= hang_after:
                time.sleep(600)
        return forward(*args, **kwargs)

    task.host.forward = hanging_forward  # type: ignore[method-assign]
    return task
