from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import Literal, cast






T = TypeVar("T", bound="SeedEnable")



@_attrs_define
class SeedEnable:
    """ Germinate a seed now in `slot` with `blueprint`, overriding the policy.

        Attributes:
            type_ (Literal['seed_enable']): Command type.
            slot (str): Slot name, e.g. `block1`.
            blueprint (str): Blueprint name from /api/v1/blueprints.
     """

    type_: Literal['seed_enable']
    slot: str
    blueprint: str





    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_

        slot = self.slot

        blueprint = self.blueprint


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "type": type_,
            "slot": slot,
            "blueprint": blueprint,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        type_ = cast(Literal['seed_enable'] , d.pop("type"))
        if type_ != 'seed_enable':
            raise ValueError(f"type must match const 'seed_enable', got '{type_}'")

        slot = d.pop("slot")

        blueprint = d.pop("blueprint")

        seed_enable = cls(
            type_=type_,
            slot=slot,
            blueprint=blueprint,
        )

        return seed_enable

