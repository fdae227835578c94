from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="TaskRead")



@_attrs_define
class TaskRead:
    """ 
        Attributes:
            name (str): Task name.
            description (str): What it is.
            input_shape (list[int] | None): One sample's shape (null for a plug-in: known once built).
            classes (int | None): Number of classes (null for a plug-in).
            slots (list[str] | Unset): Slot names of the default host.
            builtin (bool | Unset): Built in, or a plug-in installed on registered workers (entry point `esper.tasks`).
                Default: True.
     """

    name: str
    description: str
    input_shape: list[int] | None
    classes: int | None
    slots: list[str] | Unset = UNSET
    builtin: bool | Unset = True
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        name = self.name

        description = self.description

        input_shape: list[int] | None
        if isinstance(self.input_shape, list):
            input_shape = self.input_shape


        else:
            input_shape = self.input_shape

        classes: int | None
        classes = self.classes

        slots: list[str] | Unset = UNSET
        if not isinstance(self.slots, Unset):
            slots = self.slots



        builtin = self.builtin


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "name": name,
            "description": description,
            "input_shape": input_shape,
            "classes": classes,
        })
        if slots is not UNSET:
            field_dict["slots"] = slots
        if builtin is not UNSET:
            field_dict["builtin"] = builtin

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        description = d.pop("description")

        def _parse_input_shape(data: object) -> list[int] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                input_shape_type_0 = cast(list[int], data)

                return input_shape_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[int] | None, data)

        input_shape = _parse_input_shape(d.pop("input_shape"))


        def _parse_classes(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        classes = _parse_classes(d.pop("classes"))


        slots = cast(list[str], d.pop("slots", UNSET))


        builtin = d.pop("builtin", UNSET)

        task_read = cls(
            name=name,
            description=description,
            input_shape=input_shape,
            classes=classes,
            slots=slots,
            builtin=builtin,
        )


        task_read.additional_properties = d
        return task_read

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
