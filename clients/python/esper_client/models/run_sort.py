from enum import StrEnum

class RunSort(StrEnum):
    CREATED_AT = "created_at"
    NAME = "name"
    STATE = "state"
    STEP = "step"
    VALUE_1 = "-created_at"
    VALUE_3 = "-name"
    VALUE_5 = "-state"
    VALUE_7 = "-step"

    def __str__(self) -> str:
        return str(self.value)
