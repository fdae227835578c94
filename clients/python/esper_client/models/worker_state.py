from enum import StrEnum

class WorkerState(StrEnum):
    BUSY = "busy"
    DRAINED = "drained"
    DRAINING = "draining"
    IDLE = "idle"
    LOST = "lost"

    def __str__(self) -> str:
        return str(self.value)
