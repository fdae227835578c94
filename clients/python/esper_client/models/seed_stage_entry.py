from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.seed_stage import SeedStage






T = TypeVar("T", bound="SeedStageEntry")



@_attrs_define
class SeedStageEntry:
    """ One stage the seed entered, when and why.

        Attributes:
            stage (SeedStage): Kasmina's twelve seed lifecycle stages (DOMAIN.md, Esper's Leyline).

                UNKNOWN is a slot's state before it is registered; TERMINATED is final when
                the run ends or the slot is torn down. The other ten follow DOMAIN.md.
            step (int): Optimizer step of the change.
            reason (str): Why (a gate's verdict, an operator, a restore).
     """

    stage: SeedStage
    step: int
    reason: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        stage = self.stage.value

        step = self.step

        reason = self.reason


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "stage": stage,
            "step": step,
            "reason": reason,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        stage = SeedStage(d.pop("stage"))




        step = d.pop("step")

        reason = d.pop("reason")

        seed_stage_entry = cls(
            stage=stage,
            step=step,
            reason=reason,
        )


        seed_stage_entry.additional_properties = d
        return seed_stage_entry

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
