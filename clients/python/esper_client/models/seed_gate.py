from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.seed_gate_figures import SeedGateFigures





T = TypeVar("T", bound="SeedGate")



@_attrs_define
class SeedGate:
    """ One gate's verdict on the seed (G0-G5, DOMAIN.md).

        Attributes:
            gate (str): Gate name, `G0`..`G5`.
            passed (bool): Whether the seed passed it.
            step (int): Optimizer step of the verdict.
            reason (str): The gate's reason.
            figures (SeedGateFigures | Unset): The measured figures the gate judged (a non-finite one is null).
     """

    gate: str
    passed: bool
    step: int
    reason: str
    figures: SeedGateFigures | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.seed_gate_figures import SeedGateFigures # noqa: PLC0415
        gate = self.gate

        passed = self.passed

        step = self.step

        reason = self.reason

        figures: dict[str, Any] | Unset = UNSET
        if not isinstance(self.figures, Unset):
            figures = self.figures.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "gate": gate,
            "passed": passed,
            "step": step,
            "reason": reason,
        })
        if figures is not UNSET:
            field_dict["figures"] = figures

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.seed_gate_figures import SeedGateFigures # noqa: PLC0415
        d = dict(src_dict)
        gate = d.pop("gate")

        passed = d.pop("passed")

        step = d.pop("step")

        reason = d.pop("reason")

        _figures = d.pop("figures", UNSET)
        figures: SeedGateFigures | Unset
        if isinstance(_figures,  Unset):
            figures = UNSET
        else:
            figures = SeedGateFigures.from_dict(_figures)




        seed_gate = cls(
            gate=gate,
            passed=passed,
            step=step,
            reason=reason,
            figures=figures,
        )


        seed_gate.additional_properties = d
        return seed_gate

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
