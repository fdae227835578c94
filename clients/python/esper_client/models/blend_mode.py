from enum import StrEnum

class BlendMode(StrEnum):
    CHANNEL = "channel"
    CONFIDENCE = "confidence"
    CONVEX = "convex"
    RESIDUAL = "residual"

    def __str__(self) -> str:
        return str(self.value)
