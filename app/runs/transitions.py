"""The run state machine of ARCHITECTURE.md; terminal states never change."""

from api_schemas import RunState

_NEXT: dict[RunState, set[RunState]] = {
    RunState.queued: {
        RunState.assigned,
        RunState.running,
        RunState.cancelled,
        RunState.halted,
        RunState.failed,
    },
    RunState.assigned: {
        RunState.running,
        RunState.queued,
        RunState.failed,
        RunState.cancelled,
        RunState.halted,
        RunState.completed,
    },
    RunState.running: {
        RunState.paused,
        RunState.queued,
        RunState.completed,
        RunState.failed,
        RunState.cancelled,
        RunState.halted,
    },
    RunState.paused: {
        RunState.running,
        RunState.queued,
        RunState.failed,
        RunState.cancelled,
        RunState.halted,
        RunState.completed,
    },
}


def can_transition(current: RunState, target: RunState) -> bool:
    return target in _NEXT.get(current, set())
