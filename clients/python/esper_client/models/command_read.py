from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.command_state import CommandState
from ..models.command_type import CommandType
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.command_read_params import CommandReadParams
  from ..models.command_read_result import CommandReadResult





T = TypeVar("T", bound="CommandRead")



@_attrs_define
class CommandRead:
    """ A command ledger row.

        Attributes:
            id (str): Command id (UUID).
            type_ (CommandType):
            state (CommandState): pending (committed) -> dispatched (on the bus) -> applied|rejected|expired.
            issued_at (datetime.datetime): When accepted.
            run_id (None | str | Unset): Target run; null for broadcast.
            params (CommandReadParams | Unset): Parameters.
            issued_by (None | str | Unset): API key id of the issuer.
            dispatched_at (datetime.datetime | None | Unset): When on the bus.
            acked_at (datetime.datetime | None | Unset): When the worker acked.
            result (CommandReadResult | Unset): Outcome details.
            reason (None | str | Unset): Why rejected or expired.
     """

    id: str
    type_: CommandType
    state: CommandState
    issued_at: datetime.datetime
    run_id: None | str | Unset = UNSET
    params: CommandReadParams | Unset = UNSET
    issued_by: None | str | Unset = UNSET
    dispatched_at: datetime.datetime | None | Unset = UNSET
    acked_at: datetime.datetime | None | Unset = UNSET
    result: CommandReadResult | Unset = UNSET
    reason: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.command_read_params import CommandReadParams # noqa: PLC0415
        from ..models.command_read_result import CommandReadResult # noqa: PLC0415
        id = self.id

        type_ = self.type_.value

        state = self.state.value

        issued_at = self.issued_at.isoformat()

        run_id: None | str | Unset
        if isinstance(self.run_id, Unset):
            run_id = UNSET
        else:
            run_id = self.run_id

        params: dict[str, Any] | Unset = UNSET
        if not isinstance(self.params, Unset):
            params = self.params.to_dict()

        issued_by: None | str | Unset
        if isinstance(self.issued_by, Unset):
            issued_by = UNSET
        else:
            issued_by = self.issued_by

        dispatched_at: None | str | Unset
        if isinstance(self.dispatched_at, Unset):
            dispatched_at = UNSET
        elif isinstance(self.dispatched_at, datetime.datetime):
            dispatched_at = self.dispatched_at.isoformat()
        else:
            dispatched_at = self.dispatched_at

        acked_at: None | str | Unset
        if isinstance(self.acked_at, Unset):
            acked_at = UNSET
        elif isinstance(self.acked_at, datetime.datetime):
            acked_at = self.acked_at.isoformat()
        else:
            acked_at = self.acked_at

        result: dict[str, Any] | Unset = UNSET
        if not isinstance(self.result, Unset):
            result = self.result.to_dict()

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "type": type_,
            "state": state,
            "issued_at": issued_at,
        })
        if run_id is not UNSET:
            field_dict["run_id"] = run_id
        if params is not UNSET:
            field_dict["params"] = params
        if issued_by is not UNSET:
            field_dict["issued_by"] = issued_by
        if dispatched_at is not UNSET:
            field_dict["dispatched_at"] = dispatched_at
        if acked_at is not UNSET:
            field_dict["acked_at"] = acked_at
        if result is not UNSET:
            field_dict["result"] = result
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.command_read_params import CommandReadParams # noqa: PLC0415
        from ..models.command_read_result import CommandReadResult # noqa: PLC0415
        d = dict(src_dict)
        id = d.pop("id")

        type_ = CommandType(d.pop("type"))




        state = CommandState(d.pop("state"))




        issued_at = datetime.datetime.fromisoformat(d.pop("issued_at"))




        def _parse_run_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        run_id = _parse_run_id(d.pop("run_id", UNSET))


        _params = d.pop("params", UNSET)
        params: CommandReadParams | Unset
        if isinstance(_params,  Unset):
            params = UNSET
        else:
            params = CommandReadParams.from_dict(_params)




        def _parse_issued_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        issued_by = _parse_issued_by(d.pop("issued_by", UNSET))


        def _parse_dispatched_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                dispatched_at_type_0 = datetime.datetime.fromisoformat(data)



                return dispatched_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        dispatched_at = _parse_dispatched_at(d.pop("dispatched_at", UNSET))


        def _parse_acked_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                acked_at_type_0 = datetime.datetime.fromisoformat(data)



                return acked_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        acked_at = _parse_acked_at(d.pop("acked_at", UNSET))


        _result = d.pop("result", UNSET)
        result: CommandReadResult | Unset
        if isinstance(_result,  Unset):
            result = UNSET
        else:
            result = CommandReadResult.from_dict(_result)




        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))


        command_read = cls(
            id=id,
            type_=type_,
            state=state,
            issued_at=issued_at,
            run_id=run_id,
            params=params,
            issued_by=issued_by,
            dispatched_at=dispatched_at,
            acked_at=acked_at,
            result=result,
            reason=reason,
        )


        command_read.additional_properties = d
        return command_read

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
