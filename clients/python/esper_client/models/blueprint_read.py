from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.blueprint_read_slot_kinds_item import BlueprintReadSlotKindsItem
from ..models.blueprint_read_tier import BlueprintReadTier
from typing import cast






T = TypeVar("T", bound="BlueprintRead")



@_attrs_define
class BlueprintRead:
    """ 
        Attributes:
            name (str): Blueprint name.
            description (str): What it builds.
            tier (BlueprintReadTier): safe|experimental|high_risk.
            risk (float): 0 (safe) .. 1; >= 0.8 is quarantined.
            slot_kinds (list[BlueprintReadSlotKindsItem]): Slot shapes it fits.
            params_min (int): Smallest parameter count allowed.
            params_max (int): Largest parameter count allowed.
            params_estimate (int): Parameters at a reference width of 64.
     """

    name: str
    description: str
    tier: BlueprintReadTier
    risk: float
    slot_kinds: list[BlueprintReadSlotKindsItem]
    params_min: int
    params_max: int
    params_estimate: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        name = self.name

        description = self.description

        tier = self.tier.value

        risk = self.risk

        slot_kinds = []
        for slot_kinds_item_data in self.slot_kinds:
            slot_kinds_item = slot_kinds_item_data.value
            slot_kinds.append(slot_kinds_item)



        params_min = self.params_min

        params_max = self.params_max

        params_estimate = self.params_estimate


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "name": name,
            "description": description,
            "tier": tier,
            "risk": risk,
            "slot_kinds": slot_kinds,
            "params_min": params_min,
            "params_max": params_max,
            "params_estimate": params_estimate,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        description = d.pop("description")

        tier = BlueprintReadTier(d.pop("tier"))




        risk = d.pop("risk")

        slot_kinds = []
        _slot_kinds = d.pop("slot_kinds")
        for slot_kinds_item_data in (_slot_kinds):
            slot_kinds_item = BlueprintReadSlotKindsItem(slot_kinds_item_data)



            slot_kinds.append(slot_kinds_item)


        params_min = d.pop("params_min")

        params_max = d.pop("params_max")

        params_estimate = d.pop("params_estimate")

        blueprint_read = cls(
            name=name,
            description=description,
            tier=tier,
            risk=risk,
            slot_kinds=slot_kinds,
            params_min=params_min,
            params_max=params_max,
            params_estimate=params_estimate,
        )


        blueprint_read.additional_properties = d
        return blueprint_read

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
