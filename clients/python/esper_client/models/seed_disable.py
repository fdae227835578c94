from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import Literal, cast






T = TypeVar("T", bound="SeedDisable")



@_attrs_define
class SeedDisable:
    """ Cull a seed.

        Attributes:
            type_ (Literal['seed_disable']): Command type.
            seed_id (str): Seed id.
     """

    type_: Literal['seed_disable']
    seed_id: str





    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_

        seed_id = self.seed_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "type": type_,
            "seed_id": seed_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        type_ = cast(Literal['seed_disable'] , d.pop("type"))
        if type_ != 'seed_disable':
            raise ValueError(f"type must match const 'seed_disable', got '{type_}'")

        seed_id = d.pop("seed_id")

        seed_disable = cls(
            type_=type_,
            seed_id=seed_id,
        )

        return seed_disable

