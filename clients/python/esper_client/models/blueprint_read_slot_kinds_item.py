from enum import StrEnum

class BlueprintReadSlotKindsItem(StrEnum):
    IMAGE = "image"
    SEQUENCE = "sequence"
    VECTOR = "vector"

    def __str__(self) -> str:
        return str(self.value)
