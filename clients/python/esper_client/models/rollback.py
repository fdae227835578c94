from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from typing import Literal, cast






T = TypeVar("T", bound="Rollback")



@_attrs_define
class Rollback:
    """ Restore model, optimizer and seed state from a checkpoint.

        Attributes:
            type_ (Literal['rollback']): Command type.
            checkpoint_id (None | str | Unset): Checkpoint to restore (default: last good).
     """

    type_: Literal['rollback']
    checkpoint_id: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_

        checkpoint_id: None | str | Unset
        if isinstance(self.checkpoint_id, Unset):
            checkpoint_id = UNSET
        else:
            checkpoint_id = self.checkpoint_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "type": type_,
        })
        if checkpoint_id is not UNSET:
            field_dict["checkpoint_id"] = checkpoint_id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        type_ = cast(Literal['rollback'] , d.pop("type"))
        if type_ != 'rollback':
            raise ValueError(f"type must match const 'rollback', got '{type_}'")

        def _parse_checkpoint_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        checkpoint_id = _parse_checkpoint_id(d.pop("checkpoint_id", UNSET))


        rollback = cls(
            type_=type_,
            checkpoint_id=checkpoint_id,
        )

        return rollback

