from enum import StrEnum

class RestartPolicy(StrEnum):
    FAIL = "fail"
    RESUME = "resume"

    def __str__(self) -> str:
        return str(self.value)
