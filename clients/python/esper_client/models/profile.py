from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import Literal, cast






T = TypeVar("T", bound="Profile")



@_attrs_define
class Profile:
    """ Record `torch.profiler` over the next steps; the Chrome trace becomes a
    run artifact (kind `report`).

        Attributes:
            type_ (Literal['profile']): Command type.
            steps (int | Unset): Training steps to record (1..500). Default: 20.
     """

    type_: Literal['profile']
    steps: int | Unset = 20





    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_

        steps = self.steps


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "type": type_,
        })
        if steps is not UNSET:
            field_dict["steps"] = steps

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        type_ = cast(Literal['profile'] , d.pop("type"))
        if type_ != 'profile':
            raise ValueError(f"type must match const 'profile', got '{type_}'")

        steps = d.pop("steps", UNSET)

        profile = cls(
            type_=type_,
            steps=steps,
        )

        return profile

