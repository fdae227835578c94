"""The base of every request body: what no field may hold, whatever its type.

Checked once here rather than per field, so a field added later is covered:
unknown fields, non-finite numbers (JSON's `NaN`/`Infinity` tokens parse to
floats that a worker cannot use: a run with a NaN gate was never started), NUL
characters (PostgreSQL cannot store them in text or JSON), and booleans where a
number is expected (Python's `bool` is an `int`, so `false` passed as 0).
"""

import math
import types
import typing
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, model_validator

NUL = "\x00"


def bad_value(value: Any) -> str | None:
    """Why `value` (anywhere inside it) cannot be accepted, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return "numbers must be finite (no NaN or Infinity)"
    if isinstance(value, str) and NUL in value:
        return "strings must not contain NUL characters"
    if isinstance(value, dict):
        return _first_bad([*value.keys(), *value.values()])
    if isinstance(value, list | tuple):
        return _first_bad(value)
    return None


def _first_bad(values: Any) -> str | None:
    for item in values:
        reason = bad_value(item)
        if reason is not None:
            return reason
    return None


def _has_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, dict):
        return any(_has_bool(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_bool(v) for v in value)
    return False


def _admits_bool(annotation: Any) -> bool:
    """Whether a field of this type may hold a boolean somewhere: a `bool`, an
    `Any`, or a nested model (which checks its own fields)."""
    if annotation is bool or annotation is Any:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, list, dict, tuple, typing.Annotated):
        return any(_admits_bool(arg) for arg in typing.get_args(annotation))
    return False


class Strict(BaseModel):
    """Unknown fields are an error (422), never silently dropped; so are
    non-finite numbers, NUL characters and booleans given for numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # A model validator, not a field one: pydantic forbids "before" validators
    # on the discriminator of the command union.
    @model_validator(mode="before")
    @classmethod
    def _refuse_unusable(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name, value in data.items():
            reason = bad_value(name) or bad_value(value)
            reason = reason or cls._bool_misuse(name, value)
            if reason is not None:
                raise ValueError(f"{name}: {reason}")
        return data

    @classmethod
    def _bool_misuse(cls, name: Any, value: Any) -> str | None:
        field = cls.model_fields.get(name) if isinstance(name, str) else None
        if field is None or not _has_bool(value) or _admits_bool(field.annotation):
            return None
        return "a boolean is not a number here"
