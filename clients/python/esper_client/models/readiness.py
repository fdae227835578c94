from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import Literal, cast






T = TypeVar("T", bound="Readiness")



@_attrs_define
class Readiness:
    """ 200 body of /readyz; a 503 is the error model naming what is down
    (`dependency_down`, `details.down`).

        Attributes:
            status (Literal['ready']): `ready`.
            database (Literal['ok']): The database answered.
            redis (Literal['ok']): Redis answered.
     """

    status: Literal['ready']
    database: Literal['ok']
    redis: Literal['ok']
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        status = self.status

        database = self.database

        redis = self.redis


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "status": status,
            "database": database,
            "redis": redis,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        status = cast(Literal['ready'] , d.pop("status"))
        if status != 'ready':
            raise ValueError(f"status must match const 'ready', got '{status}'")

        database = cast(Literal['ok'] , d.pop("database"))
        if database != 'ok':
            raise ValueError(f"database must match const 'ok', got '{database}'")

        redis = cast(Literal['ok'] , d.pop("redis"))
        if redis != 'ok':
            raise ValueError(f"redis must match const 'ok', got '{redis}'")

        readiness = cls(
            status=status,
            database=database,
            redis=redis,
        )


        readiness.additional_properties = d
        return readiness

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
