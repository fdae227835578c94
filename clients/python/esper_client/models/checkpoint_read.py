from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="CheckpointRead")



@_attrs_define
class CheckpointRead:
    """ One of the run's checkpoints in the artifact store.

        Attributes:
            id (str): Checkpoint id (`rollback`'s `checkpoint_id`).
            step (int): Optimizer step.
            epoch (int): Epoch.
            created_at (datetime.datetime | None | Unset): When written.
            bytes_ (int | Unset): Size in the artifact store. Default: 0.
            good (bool | Unset): Taken while the run was healthy, and its upload verified against the sha256 of its
                manifest. Default: True.
            artifact (None | str | Unset): Its name among the run's artifacts (for the download).
            sha256 (None | str | Unset): sha256 of its content.
            val_accuracy (float | None | Unset): The run's latest validation accuracy at it.
     """

    id: str
    step: int
    epoch: int
    created_at: datetime.datetime | None | Unset = UNSET
    bytes_: int | Unset = 0
    good: bool | Unset = True
    artifact: None | str | Unset = UNSET
    sha256: None | str | Unset = UNSET
    val_accuracy: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        id = self.id

        step = self.step

        epoch = self.epoch

        created_at: None | str | Unset
        if isinstance(self.created_at, Unset):
            created_at = UNSET
        elif isinstance(self.created_at, datetime.datetime):
            created_at = self.created_at.isoformat()
        else:
            created_at = self.created_at

        bytes_ = self.bytes_

        good = self.good

        artifact: None | str | Unset
        if isinstance(self.artifact, Unset):
            artifact = UNSET
        else:
            artifact = self.artifact

        sha256: None | str | Unset
        if isinstance(self.sha256, Unset):
            sha256 = UNSET
        else:
            sha256 = self.sha256

        val_accuracy: float | None | Unset
        if isinstance(self.val_accuracy, Unset):
            val_accuracy = UNSET
        else:
            val_accuracy = self.val_accuracy


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "step": step,
            "epoch": epoch,
        })
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if bytes_ is not UNSET:
            field_dict["bytes"] = bytes_
        if good is not UNSET:
            field_dict["good"] = good
        if artifact is not UNSET:
            field_dict["artifact"] = artifact
        if sha256 is not UNSET:
            field_dict["sha256"] = sha256
        if val_accuracy is not UNSET:
            field_dict["val_accuracy"] = val_accuracy

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        step = d.pop("step")

        epoch = d.pop("epoch")

        def _parse_created_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                created_at_type_0 = datetime.datetime.fromisoformat(data)



                return created_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        created_at = _parse_created_at(d.pop("created_at", UNSET))


        bytes_ = d.pop("bytes", UNSET)

        good = d.pop("good", UNSET)

        def _parse_artifact(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        artifact = _parse_artifact(d.pop("artifact", UNSET))


        def _parse_sha256(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        sha256 = _parse_sha256(d.pop("sha256", UNSET))


        def _parse_val_accuracy(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        val_accuracy = _parse_val_accuracy(d.pop("val_accuracy", UNSET))


        checkpoint_read = cls(
            id=id,
            step=step,
            epoch=epoch,
            created_at=created_at,
            bytes_=bytes_,
            good=good,
            artifact=artifact,
            sha256=sha256,
            val_accuracy=val_accuracy,
        )


        checkpoint_read.additional_properties = d
        return checkpoint_read

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
