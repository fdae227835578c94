from enum import StrEnum

class PacketKind(StrEnum):
    COMMAND = "command"
    EVENT = "event"
    METRIC = "metric"
    SEED = "seed"
    STATE = "state"

    def __str__(self) -> str:
        return str(self.value)
