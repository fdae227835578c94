from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.model_options_options import ModelOptionsOptions





T = TypeVar("T", bound="ModelOptions")



@_attrs_define
class ModelOptions:
    """ Host architecture options; each task documents which it reads.

        Attributes:
            width (int | None | Unset): Hidden width (MLP) or base channels (CNN).
            depth (int | None | Unset): Number of hidden blocks (each ends in a slot).
            options (ModelOptionsOptions | Unset): Task-specific extras for user tasks.
     """

    width: int | None | Unset = UNSET
    depth: int | None | Unset = UNSET
    options: ModelOptionsOptions | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.model_options_options import ModelOptionsOptions # noqa: PLC0415
        width: int | None | Unset
        if isinstance(self.width, Unset):
            width = UNSET
        else:
            width = self.width

        depth: int | None | Unset
        if isinstance(self.depth, Unset):
            depth = UNSET
        else:
            depth = self.depth

        options: dict[str, Any] | Unset = UNSET
        if not isinstance(self.options, Unset):
            options = self.options.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if width is not UNSET:
            field_dict["width"] = width
        if depth is not UNSET:
            field_dict["depth"] = depth
        if options is not UNSET:
            field_dict["options"] = options

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.model_options_options import ModelOptionsOptions # noqa: PLC0415
        d = dict(src_dict)
        def _parse_width(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        width = _parse_width(d.pop("width", UNSET))


        def _parse_depth(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        depth = _parse_depth(d.pop("depth", UNSET))


        _options = d.pop("options", UNSET)
        options: ModelOptionsOptions | Unset
        if isinstance(_options,  Unset):
            options = UNSET
        else:
            options = ModelOptionsOptions.from_dict(_options)




        model_options = cls(
            width=width,
            depth=depth,
            options=options,
        )

        return model_options

