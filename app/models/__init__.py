"""SQLModel tables, one file each; importing this package registers them all."""

from app.models.api_key import ApiKey
from app.models.checkpoint import Checkpoint
from app.models.command import Command
from app.models.outbox import Outbox
from app.models.run import Run
from app.models.seed import Seed
from app.models.telemetry import TelemetryRecord
from app.models.worker import Worker

__all__ = [
    "ApiKey",
    "Checkpoint",
    "Command",
    "Outbox",
    "Run",
    "Seed",
    "TelemetryRecord",
    "Worker",
]
