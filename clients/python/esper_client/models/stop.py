from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import Literal, cast






T = TypeVar("T", bound="Stop")



@_attrs_define
class Stop:
    """ Finish cleanly at the next step boundary; the run ends `cancelled`.

        Attributes:
            type_ (Literal['stop']): Command type.
     """

    type_: Literal['stop']





    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "type": type_,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        type_ = cast(Literal['stop'] , d.pop("type"))
        if type_ != 'stop':
            raise ValueError(f"type must match const 'stop', got '{type_}'")

        stop = cls(
            type_=type_,
        )

        return stop

