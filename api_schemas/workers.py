"""Workers as the API shows them."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api_schemas.enums import WorkerState


class WorkerRead(BaseModel):
    id: str = Field(description="Worker id.")
    hostname: str = Field(description="Host it runs on.")
    device: str = Field(description="Device string, e.g. `cpu`, `cuda:0`.")
    device_name: str | None = Field(default=None, description="e.g. `NVIDIA H100`.")
    state: WorkerState = Field(description="idle|busy|draining|drained|lost.")
    run_id: str | None = Field(default=None, description="Run it holds.")
    last_heartbeat: datetime | None = Field(default=None, description="Last heartbeat.")
    torch_version: str | None = Field(default=None, description="torch.__version__.")
    capabilities: dict[str, Any] = Field(
        default_factory=dict, description="Memory, capability, pid, ..."
    )
