"""A user task whose host hangs mid-step, as a stuck GPU kernel would.

Loaded by the worker subprocess through the spec's `task` import path:
`tests.integration.worker.hang_task:factory`. The host's forward sleeps (far
longer than any test) from its `hang_after`-th training call on. With the
`hang_marker` option it first creates that file, so a test can wait until the
step is really stuck before it sends a halt (a halt that arrives earlier is
honoured at a step boundary, and nothing hangs).
"""

import time
from pathlib import Path
from typing import Any

from workers.engine.tasks import Task, TaskOptions, digits_task


def factory(opts: TaskOptions) -> Task:
    task = digits_task(opts)
    hang_after = int(opts.options.get("hang_after", 10))
    marker = opts.options.get("hang_marker")
    forward = task.host.forward
    calls = {"n": 0}

    def hanging_forward(*args: Any, **kwargs: Any) -> Any:
        if task.host.training:
            calls["n"] += 1
            if calls["n"] >= hang_after:
                if marker:
                    Path(marker).touch()
                time.sleep(600)
        return forward(*args, **kwargs)

    task.host.forward = hanging_forward
    return task
