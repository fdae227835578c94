from enum import StrEnum

class CommandState(StrEnum):
    APPLIED = "applied"
    DISPATCHED = "dispatched"
    EXPIRED = "expired"
    PENDING = "pending"
    REJECTED = "rejected"

    def __str__(self) -> str:
        return str(self.value)
