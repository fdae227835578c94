"""API keys (API.md, API keys)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from api_schemas.enums import Role
from api_schemas.strict import Strict


class ApiKeyCreate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="Who or what the key is for."
    )
    role: Role = Field(description="viewer|operator|admin.")


class ApiKeyRead(BaseModel):
    id: str = Field(description="Key id.")
    name: str = Field(description="Name.")
    role: Role = Field(description="Role.")
    created_at: datetime = Field(description="Created.")
    revoked_at: datetime | None = Field(default=None, description="Revoked, if so.")


class ApiKeyCreated(BaseModel):
    """The only response that carries the token."""

    id: str = Field(description="Key id.")
    name: str = Field(description="Name.")
    role: Role = Field(description="Role.")
    token: str = Field(description="Bearer token; shown once, stored hashed.")


class WsTicket(BaseModel):
    """A single-use WebSocket ticket (API.md, WebSocket): `?ticket=` on /ws/..."""

    ticket: str = Field(description="Opaque; valid once, for `expires_in` seconds.")
    expires_in: int = Field(description="Seconds until the ticket expires unused.")
