from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="ResumeFrom")



@_attrs_define
class ResumeFrom:
    """ Another run's checkpoint to start from (its grown seeds included).

        Attributes:
            run_id (str): The run whose checkpoint to start from.
            checkpoint_id (None | str | Unset): Its checkpoint; null: the latest good one.
     """

    run_id: str
    checkpoint_id: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        run_id = self.run_id

        checkpoint_id: None | str | Unset
        if isinstance(self.checkpoint_id, Unset):
            checkpoint_id = UNSET
        else:
            checkpoint_id = self.checkpoint_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "run_id": run_id,
        })
        if checkpoint_id is not UNSET:
            field_dict["checkpoint_id"] = checkpoint_id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        run_id = d.pop("run_id")

        def _parse_checkpoint_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        checkpoint_id = _parse_checkpoint_id(d.pop("checkpoint_id", UNSET))


        resume_from = cls(
            run_id=run_id,
            checkpoint_id=checkpoint_id,
        )

        return resume_from

