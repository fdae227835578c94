from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="TelemetryBucket")



@_attrs_define
class TelemetryBucket:
    """ Deterministic min/max/last of one metric over a range of steps.

        Attributes:
            name (str): Metric name.
            step_start (int): First step in the bucket.
            step_end (int): Last step in the bucket.
            min_ (float): Minimum.
            max_ (float): Maximum.
            last (float): Last value (highest cursor).
            count (int): Samples in the bucket.
     """

    name: str
    step_start: int
    step_end: int
    min_: float
    max_: float
    last: float
    count: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        name = self.name

        step_start = self.step_start

        step_end = self.step_end

        min_ = self.min_

        max_ = self.max_

        last = self.last

        count = self.count


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "name": name,
            "step_start": step_start,
            "step_end": step_end,
            "min": min_,
            "max": max_,
            "last": last,
            "count": count,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        step_start = d.pop("step_start")

        step_end = d.pop("step_end")

        min_ = d.pop("min")

        max_ = d.pop("max")

        last = d.pop("last")

        count = d.pop("count")

        telemetry_bucket = cls(
            name=name,
            step_start=step_start,
            step_end=step_end,
            min_=min_,
            max_=max_,
            last=last,
            count=count,
        )


        telemetry_bucket.additional_properties = d
        return telemetry_bucket

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
