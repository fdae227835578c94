from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import Literal, cast






T = TypeVar("T", bound="EmergencyHalt")



@_attrs_define
class EmergencyHalt:
    """ Stop optimizer updates within one step, checkpoint, end `halted`.

        Attributes:
            type_ (Literal['emergency_halt']): Command type.
            reason (str | Unset): Why (recorded as the run's halt_reason). Default: 'operator'.
     """

    type_: Literal['emergency_halt']
    reason: str | Unset = 'operator'





    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_

        reason = self.reason


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "type": type_,
        })
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        type_ = cast(Literal['emergency_halt'] , d.pop("type"))
        if type_ != 'emergency_halt':
            raise ValueError(f"type must match const 'emergency_halt', got '{type_}'")

        reason = d.pop("reason", UNSET)

        emergency_halt = cls(
            type_=type_,
            reason=reason,
        )

        return emergency_halt

