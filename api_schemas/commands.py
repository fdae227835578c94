"""Operator commands: request bodies (a union discriminated by `type`) and the
ledger row."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, TypeAdapter

from api_schemas.enums import CommandState, CommandType
from api_schemas.pages import Page
from api_schemas.strict import Strict

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class EmergencyHalt(Strict):
    """Stop optimizer updates within one step, checkpoint, end `halted`."""

    type: Literal["emergency_halt"] = Field(description="Command type.")
    reason: Annotated[str, StringConstraints(max_length=500)] = Field(
        default="operator", description="Why (recorded as the run's halt_reason)."
    )


class Pause(Strict):
    """Hold at the next step boundary."""

    type: Literal["pause"] = Field(description="Command type.")


class Resume(Strict):
    """Continue a paused run."""

    type: Literal["resume"] = Field(description="Command type.")


class Stop(Strict):
    """Finish cleanly at the next step boundary; the run ends `cancelled`."""

    type: Literal["stop"] = Field(description="Command type.")


class Rollback(Strict):
    """Restore model, optimizer and seed state from a checkpoint."""

    type: Literal["rollback"] = Field(description="Command type.")
    checkpoint_id: Name | None = Field(
        default=None, description="Checkpoint to restore (default: last good)."
    )


class SeedEnable(Strict):
    """Germinate a seed now in `slot` with `blueprint`, overriding the policy."""

    type: Literal["seed_enable"] = Field(description="Command type.")
    slot: Name = Field(description="Slot name, e.g. `block1`.")
    blueprint: Name = Field(description="Blueprint name from /api/v1/blueprints.")


class SeedDisable(Strict):
    """Cull a seed."""

    type: Literal["seed_disable"] = Field(description="Command type.")
    seed_id: Name = Field(description="Seed id.")


class RegistryReset(Strict):
    """Clear the worker's blueprint cache and command nonce ledger."""

    type: Literal["registry_reset"] = Field(description="Command type.")


class Profile(Strict):
    """Record `torch.profiler` over the next steps; the Chrome trace becomes a
    run artifact (kind `report`)."""

    type: Literal["profile"] = Field(description="Command type.")
    steps: int = Field(
        default=20, ge=1, le=500, description="Training steps to record (1..500)."
    )


CommandCreate = Annotated[
    EmergencyHalt
    | Pause
    | Resume
    | Stop
    | Rollback
    | SeedEnable
    | SeedDisable
    | RegistryReset
    | Profile,
    Field(discriminator="type"),
]
command_create_adapter: TypeAdapter[Any] = TypeAdapter(CommandCreate)


def command_params(command: BaseModel) -> dict[str, Any]:
    """The parameters of a command body, without its type."""
    return command.model_dump(mode="json", exclude={"type"})


class CommandRead(BaseModel):
    """A command ledger row."""

    id: str = Field(description="Command id (UUID).")
    run_id: str | None = Field(
        default=None, description="Target run; null for broadcast."
    )
    type: CommandType = Field(description="Command type.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters.")
    state: CommandState = Field(description="Ledger state.")
    issued_by: str | None = Field(default=None, description="API key id of the issuer.")
    issued_at: datetime = Field(description="When accepted.")
    dispatched_at: datetime | None = Field(default=None, description="When on the bus.")
    acked_at: datetime | None = Field(
        default=None, description="When the worker acked."
    )
    result: dict[str, Any] = Field(default_factory=dict, description="Outcome details.")
    reason: str | None = Field(default=None, description="Why rejected or expired.")


class CommandPage(Page[CommandRead]):
    """A page of commands."""


class CommandBatch(BaseModel):
    """The commands created by a fleet-wide action."""

    commands: list[CommandRead] = Field(description="One command per live run.")
