from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="RunMetrics")



@_attrs_define
class RunMetrics:
    """ 
        Attributes:
            loss (float | None | Unset): Latest training loss.
            accuracy (float | None | Unset): Latest training accuracy.
            val_loss (float | None | Unset): Latest validation loss.
            val_accuracy (float | None | Unset): Latest validation accuracy.
            step_time_ms (float | None | Unset): Latest step time.
     """

    loss: float | None | Unset = UNSET
    accuracy: float | None | Unset = UNSET
    val_loss: float | None | Unset = UNSET
    val_accuracy: float | None | Unset = UNSET
    step_time_ms: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        loss: float | None | Unset
        if isinstance(self.loss, Unset):
            loss = UNSET
        else:
            loss = self.loss

        accuracy: float | None | Unset
        if isinstance(self.accuracy, Unset):
            accuracy = UNSET
        else:
            accuracy = self.accuracy

        val_loss: float | None | Unset
        if isinstance(self.val_loss, Unset):
            val_loss = UNSET
        else:
            val_loss = self.val_loss

        val_accuracy: float | None | Unset
        if isinstance(self.val_accuracy, Unset):
            val_accuracy = UNSET
        else:
            val_accuracy = self.val_accuracy

        step_time_ms: float | None | Unset
        if isinstance(self.step_time_ms, Unset):
            step_time_ms = UNSET
        else:
            step_time_ms = self.step_time_ms


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
        })
        if loss is not UNSET:
            field_dict["loss"] = loss
        if accuracy is not UNSET:
            field_dict["accuracy"] = accuracy
        if val_loss is not UNSET:
            field_dict["val_loss"] = val_loss
        if val_accuracy is not UNSET:
            field_dict["val_accuracy"] = val_accuracy
        if step_time_ms is not UNSET:
            field_dict["step_time_ms"] = step_time_ms

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_loss(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        loss = _parse_loss(d.pop("loss", UNSET))


        def _parse_accuracy(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        accuracy = _parse_accuracy(d.pop("accuracy", UNSET))


        def _parse_val_loss(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        val_loss = _parse_val_loss(d.pop("val_loss", UNSET))


        def _parse_val_accuracy(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        val_accuracy = _parse_val_accuracy(d.pop("val_accuracy", UNSET))


        def _parse_step_time_ms(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        step_time_ms = _parse_step_time_ms(d.pop("step_time_ms", UNSET))


        run_metrics = cls(
            loss=loss,
            accuracy=accuracy,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            step_time_ms=step_time_ms,
        )


        run_metrics.additional_properties = d
        return run_metrics

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
