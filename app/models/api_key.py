"""ApiKey: a bearer token's role; only a keyed hash of the token is stored."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models._types import new_id, time_field


class ApiKey(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=100)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=128)
    created_at: datetime = time_field(nullable=False)
    revoked_at: datetime | None = time_field()
