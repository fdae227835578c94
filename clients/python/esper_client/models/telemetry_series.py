from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.telemetry_bucket import TelemetryBucket





T = TypeVar("T", bound="TelemetrySeries")



@_attrs_define
class TelemetrySeries:
    """ History reduced to buckets for charts.

        Attributes:
            resolution (int): Buckets per metric requested.
            buckets (list[TelemetryBucket]): Buckets, by name then step.
            cursor (None | str | Unset): Highest cursor the buckets cover: open the run's WebSocket with ?after= this to
                continue live without replaying history.
     """

    resolution: int
    buckets: list[TelemetryBucket]
    cursor: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.telemetry_bucket import TelemetryBucket # noqa: PLC0415
        resolution = self.resolution

        buckets = []
        for buckets_item_data in self.buckets:
            buckets_item = buckets_item_data.to_dict()
            buckets.append(buckets_item)



        cursor: None | str | Unset
        if isinstance(self.cursor, Unset):
            cursor = UNSET
        else:
            cursor = self.cursor


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "resolution": resolution,
            "buckets": buckets,
        })
        if cursor is not UNSET:
            field_dict["cursor"] = cursor

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.telemetry_bucket import TelemetryBucket # noqa: PLC0415
        d = dict(src_dict)
        resolution = d.pop("resolution")

        buckets = []
        _buckets = d.pop("buckets")
        for buckets_item_data in (_buckets):
            buckets_item = TelemetryBucket.from_dict(buckets_item_data)



            buckets.append(buckets_item)


        def _parse_cursor(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        cursor = _parse_cursor(d.pop("cursor", UNSET))


        telemetry_series = cls(
            resolution=resolution,
            buckets=buckets,
            cursor=cursor,
        )


        telemetry_series.additional_properties = d
        return telemetry_series

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
