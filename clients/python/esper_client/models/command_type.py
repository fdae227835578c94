from enum import StrEnum

class CommandType(StrEnum):
    EMERGENCY_HALT = "emergency_halt"
    PAUSE = "pause"
    PROFILE = "profile"
    REGISTRY_RESET = "registry_reset"
    RESUME = "resume"
    ROLLBACK = "rollback"
    SEED_DISABLE = "seed_disable"
    SEED_ENABLE = "seed_enable"
    STOP = "stop"

    def __str__(self) -> str:
        return str(self.value)
