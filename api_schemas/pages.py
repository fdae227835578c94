"""Cursor pagination shared by every list endpoint."""

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """`{"items": [...], "next_cursor": "..." | null}`."""

    items: list[T] = Field(description="This page's items.")
    next_cursor: str | None = Field(
        default=None, description="Opaque cursor for the next page; null at the end."
    )
