from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.level import Level
from ..models.packet_kind import PacketKind
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.telemetry_packet_attrs import TelemetryPacketAttrs





T = TypeVar("T", bound="TelemetryPacket")



@_attrs_define
class TelemetryPacket:
    """ One frame: a metric, event, seed state, run state or command outcome.

        Attributes:
            kind (PacketKind):
            name (str): e.g. `tolaria.training.loss`.
            cursor (None | str | Unset): Opaque, increasing; resume with ?after=.
            run_id (None | str | Unset): Run id (null for fleet-wide).
            ts (datetime.datetime | Unset): Emission time (UTC).
            value (float | None | str | Unset): Value, if any.
            step (int | None | Unset): Optimizer step.
            epoch (int | None | Unset): Epoch.
            level (Level | Unset):
            attrs (TelemetryPacketAttrs | Unset): Extra fields.
     """

    kind: PacketKind
    name: str
    cursor: None | str | Unset = UNSET
    run_id: None | str | Unset = UNSET
    ts: datetime.datetime | Unset = UNSET
    value: float | None | str | Unset = UNSET
    step: int | None | Unset = UNSET
    epoch: int | None | Unset = UNSET
    level: Level | Unset = UNSET
    attrs: TelemetryPacketAttrs | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.telemetry_packet_attrs import TelemetryPacketAttrs # noqa: PLC0415
        kind = self.kind.value

        name = self.name

        cursor: None | str | Unset
        if isinstance(self.cursor, Unset):
            cursor = UNSET
        else:
            cursor = self.cursor

        run_id: None | str | Unset
        if isinstance(self.run_id, Unset):
            run_id = UNSET
        else:
            run_id = self.run_id

        ts: str | Unset = UNSET
        if not isinstance(self.ts, Unset):
            ts = self.ts.isoformat()

        value: float | None | str | Unset
        if isinstance(self.value, Unset):
            value = UNSET
        else:
            value = self.value

        step: int | None | Unset
        if isinstance(self.step, Unset):
            step = UNSET
        else:
            step = self.step

        epoch: int | None | Unset
        if isinstance(self.epoch, Unset):
            epoch = UNSET
        else:
            epoch = self.epoch

        level: str | Unset = UNSET
        if not isinstance(self.level, Unset):
            level = self.level.value


        attrs: dict[str, Any] | Unset = UNSET
        if not isinstance(self.attrs, Unset):
            attrs = self.attrs.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "kind": kind,
            "name": name,
        })
        if cursor is not UNSET:
            field_dict["cursor"] = cursor
        if run_id is not UNSET:
            field_dict["run_id"] = run_id
        if ts is not UNSET:
            field_dict["ts"] = ts
        if value is not UNSET:
            field_dict["value"] = value
        if step is not UNSET:
            field_dict["step"] = step
        if epoch is not UNSET:
            field_dict["epoch"] = epoch
        if level is not UNSET:
            field_dict["level"] = level
        if attrs is not UNSET:
            field_dict["attrs"] = attrs

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.telemetry_packet_attrs import TelemetryPacketAttrs # noqa: PLC0415
        d = dict(src_dict)
        kind = PacketKind(d.pop("kind"))




        name = d.pop("name")

        def _parse_cursor(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        cursor = _parse_cursor(d.pop("cursor", UNSET))


        def _parse_run_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        run_id = _parse_run_id(d.pop("run_id", UNSET))


        _ts = d.pop("ts", UNSET)
        ts: datetime.datetime | Unset
        if isinstance(_ts,  Unset):
            ts = UNSET
        else:
            ts = datetime.datetime.fromisoformat(_ts)




        def _parse_value(data: object) -> float | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | str | Unset, data)

        value = _parse_value(d.pop("value", UNSET))


        def _parse_step(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        step = _parse_step(d.pop("step", UNSET))


        def _parse_epoch(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        epoch = _parse_epoch(d.pop("epoch", UNSET))


        _level = d.pop("level", UNSET)
        level: Level | Unset
        if isinstance(_level,  Unset):
            level = UNSET
        else:
            level = Level(_level)




        _attrs = d.pop("attrs", UNSET)
        attrs: TelemetryPacketAttrs | Unset
        if isinstance(_attrs,  Unset):
            attrs = UNSET
        else:
            attrs = TelemetryPacketAttrs.from_dict(_attrs)




        telemetry_packet = cls(
            kind=kind,
            name=name,
            cursor=cursor,
            run_id=run_id,
            ts=ts,
            value=value,
            step=step,
            epoch=epoch,
            level=level,
            attrs=attrs,
        )


        telemetry_packet.additional_properties = d
        return telemetry_packet

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
