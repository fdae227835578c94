"""Seed: one seed a run germinated and its lineage, built from seed events."""

from typing import Any

from sqlmodel import Field, SQLModel

from app.models._types import bigint_field, json_field


class Seed(SQLModel, table=True):
    run_id: str = Field(primary_key=True, max_length=36)
    seed_id: str = Field(primary_key=True, max_length=100)
    slot: str = Field(default="", max_length=200)
    blueprint: str = Field(default="", max_length=200)
    stage: str = Field(default="GERMINATED", max_length=16)
    alpha: float = 0.0
    params: int = bigint_field()
    germinated_step: int = 0
    ended_step: int | None = None
    outcome: str = Field(default="live", max_length=16)
    reason: str | None = Field(default=None, max_length=4000)
    history: list[dict[str, Any]] = json_field(list)
    gates: list[dict[str, Any]] = json_field(list)
    # The stream cursor of the last packet applied: one seen again (a gateway
    # restart, a second replica) is at or before it and changes nothing.
    cursor_ms: int = bigint_field()
    cursor_seq: int = bigint_field()
