"""Waiting until a finished run's history is recorded.

The gateway learns a run's state from the events stream and persists its
telemetry from the telemetry stream, two consumers, so under load the history
and the seed lineage (written in the same transaction) trail the state by
seconds. A run's history is complete once it holds the run's terminal state
packet; commands that read a finished run's seeds or history wait for that.
"""

import time
from collections.abc import Callable, Iterable

from api_schemas.enums import TERMINAL_RUN_STATE_VALUES

# Query parameters for the run's persisted state packets (GET .../telemetry).
STATE_PACKETS: dict[str, str | int] = {"kind": "state", "limit": 5000}


def wait_recorded(
    states: Callable[[], Iterable[object]],
    timeout_s: float = 30.0,
    poll_s: float = 0.2,
) -> bool:
    """Poll `states` (the values of the run's persisted state packets) until
    one is terminal; False when none was within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not any(v in TERMINAL_RUN_STATE_VALUES for v in states()):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
    return True
