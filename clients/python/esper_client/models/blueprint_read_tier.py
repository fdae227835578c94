from enum import StrEnum

class BlueprintReadTier(StrEnum):
    EXPERIMENTAL = "experimental"
    HIGH_RISK = "high_risk"
    SAFE = "safe"

    def __str__(self) -> str:
        return str(self.value)
