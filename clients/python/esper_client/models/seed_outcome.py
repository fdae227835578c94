from enum import StrEnum

class SeedOutcome(StrEnum):
    CULLED = "culled"
    FOSSILISED = "fossilised"
    LIVE = "live"

    def __str__(self) -> str:
        return str(self.value)
