from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.artifact_kind import ArtifactKind
from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="ArtifactRead")



@_attrs_define
class ArtifactRead:
    """ One of a run's artifacts in the store (API.md's Artifact).

        Attributes:
            name (str): Its name among the run's artifacts.
            kind (ArtifactKind):
            bytes_ (int): Size of the content.
            sha256 (str): Hex sha256 of the content (the download's ETag).
            created_at (datetime.datetime): When it was stored (UTC).
            step (int | None | Unset): Optimizer step it is from.
     """

    name: str
    kind: ArtifactKind
    bytes_: int
    sha256: str
    created_at: datetime.datetime
    step: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        name = self.name

        kind = self.kind.value

        bytes_ = self.bytes_

        sha256 = self.sha256

        created_at = self.created_at.isoformat()

        step: int | None | Unset
        if isinstance(self.step, Unset):
            step = UNSET
        else:
            step = self.step


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "name": name,
            "kind": kind,
            "bytes": bytes_,
            "sha256": sha256,
            "created_at": created_at,
        })
        if step is not UNSET:
            field_dict["step"] = step

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        kind = ArtifactKind(d.pop("kind"))




        bytes_ = d.pop("bytes")

        sha256 = d.pop("sha256")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        def _parse_step(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        step = _parse_step(d.pop("step", UNSET))


        artifact_read = cls(
            name=name,
            kind=kind,
            bytes_=bytes_,
            sha256=sha256,
            created_at=created_at,
            step=step,
        )


        artifact_read.additional_properties = d
        return artifact_read

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
