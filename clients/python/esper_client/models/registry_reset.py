from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import Literal, cast






T = TypeVar("T", bound="RegistryReset")



@_attrs_define
class RegistryReset:
    """ Clear the worker's blueprint cache and command nonce ledger.

        Attributes:
            type_ (Literal['registry_reset']): Command type.
     """

    type_: Literal['registry_reset']





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
        type_ = cast(Literal['registry_reset'] , d.pop("type"))
        if type_ != 'registry_reset':
            raise ValueError(f"type must match const 'registry_reset', got '{type_}'")

        registry_reset = cls(
            type_=type_,
        )

        return registry_reset

