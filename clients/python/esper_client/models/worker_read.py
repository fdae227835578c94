from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.worker_state import WorkerState
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.worker_read_capabilities import WorkerReadCapabilities





T = TypeVar("T", bound="WorkerRead")



@_attrs_define
class WorkerRead:
    """ 
        Attributes:
            id (str): Worker id.
            hostname (str): Host it runs on.
            device (str): Device string, e.g. `cpu`, `cuda:0`.
            state (WorkerState): draining: asked to drain (or shutting down), finishing its run;
                drained: it finished and claims nothing until it is restarted.
            device_name (None | str | Unset): e.g. `NVIDIA H100`.
            run_id (None | str | Unset): Run it holds.
            last_heartbeat (datetime.datetime | None | Unset): Last heartbeat.
            torch_version (None | str | Unset): torch.__version__.
            capabilities (WorkerReadCapabilities | Unset): Memory, capability, pid, ...
     """

    id: str
    hostname: str
    device: str
    state: WorkerState
    device_name: None | str | Unset = UNSET
    run_id: None | str | Unset = UNSET
    last_heartbeat: datetime.datetime | None | Unset = UNSET
    torch_version: None | str | Unset = UNSET
    capabilities: WorkerReadCapabilities | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.worker_read_capabilities import WorkerReadCapabilities # noqa: PLC0415
        id = self.id

        hostname = self.hostname

        device = self.device

        state = self.state.value

        device_name: None | str | Unset
        if isinstance(self.device_name, Unset):
            device_name = UNSET
        else:
            device_name = self.device_name

        run_id: None | str | Unset
        if isinstance(self.run_id, Unset):
            run_id = UNSET
        else:
            run_id = self.run_id

        last_heartbeat: None | str | Unset
        if isinstance(self.last_heartbeat, Unset):
            last_heartbeat = UNSET
        elif isinstance(self.last_heartbeat, datetime.datetime):
            last_heartbeat = self.last_heartbeat.isoformat()
        else:
            last_heartbeat = self.last_heartbeat

        torch_version: None | str | Unset
        if isinstance(self.torch_version, Unset):
            torch_version = UNSET
        else:
            torch_version = self.torch_version

        capabilities: dict[str, Any] | Unset = UNSET
        if not isinstance(self.capabilities, Unset):
            capabilities = self.capabilities.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "hostname": hostname,
            "device": device,
            "state": state,
        })
        if device_name is not UNSET:
            field_dict["device_name"] = device_name
        if run_id is not UNSET:
            field_dict["run_id"] = run_id
        if last_heartbeat is not UNSET:
            field_dict["last_heartbeat"] = last_heartbeat
        if torch_version is not UNSET:
            field_dict["torch_version"] = torch_version
        if capabilities is not UNSET:
            field_dict["capabilities"] = capabilities

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.worker_read_capabilities import WorkerReadCapabilities # noqa: PLC0415
        d = dict(src_dict)
        id = d.pop("id")

        hostname = d.pop("hostname")

        device = d.pop("device")

        state = WorkerState(d.pop("state"))




        def _parse_device_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        device_name = _parse_device_name(d.pop("device_name", UNSET))


        def _parse_run_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        run_id = _parse_run_id(d.pop("run_id", UNSET))


        def _parse_last_heartbeat(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                last_heartbeat_type_0 = datetime.datetime.fromisoformat(data)



                return last_heartbeat_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        last_heartbeat = _parse_last_heartbeat(d.pop("last_heartbeat", UNSET))


        def _parse_torch_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        torch_version = _parse_torch_version(d.pop("torch_version", UNSET))


        _capabilities = d.pop("capabilities", UNSET)
        capabilities: WorkerReadCapabilities | Unset
        if isinstance(_capabilities,  Unset):
            capabilities = UNSET
        else:
            capabilities = WorkerReadCapabilities.from_dict(_capabilities)




        worker_read = cls(
            id=id,
            hostname=hostname,
            device=device,
            state=state,
            device_name=device_name,
            run_id=run_id,
            last_heartbeat=last_heartbeat,
            torch_version=torch_version,
            capabilities=capabilities,
        )


        worker_read.additional_properties = d
        return worker_read

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
