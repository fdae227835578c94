from enum import StrEnum

class GradientAggregation(StrEnum):
    PCGRAD = "pcgrad"
    SUM = "sum"

    def __str__(self) -> str:
        return str(self.value)
