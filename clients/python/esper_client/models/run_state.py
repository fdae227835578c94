from enum import StrEnum

class RunState(StrEnum):
    ASSIGNED = "assigned"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    FAILED = "failed"
    HALTED = "halted"
    PAUSED = "paused"
    QUEUED = "queued"
    RUNNING = "running"

    def __str__(self) -> str:
        return str(self.value)
