from enum import StrEnum

class ArtifactKind(StrEnum):
    CHECKPOINT = "checkpoint"
    MODEL = "model"
    REPORT = "report"

    def __str__(self) -> str:
        return str(self.value)
