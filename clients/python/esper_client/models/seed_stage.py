from enum import StrEnum

class SeedStage(StrEnum):
    BLENDING = "BLENDING"
    CULLED = "CULLED"
    DORMANT = "DORMANT"
    EMBARGOED = "EMBARGOED"
    FOSSILIZED = "FOSSILIZED"
    GERMINATED = "GERMINATED"
    PROBATIONARY = "PROBATIONARY"
    RESETTING = "RESETTING"
    SHADOWING = "SHADOWING"
    TERMINATED = "TERMINATED"
    TRAINING = "TRAINING"
    UNKNOWN = "UNKNOWN"

    def __str__(self) -> str:
        return str(self.value)
