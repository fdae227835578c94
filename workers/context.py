"""What one worker process shares between its runs and threads."""

import threading
from dataclasses import dataclass, field
from typing import Any

import redis

from workers.nonce import NonceLedger
from workers.settings import WorkerSettings


@dataclass
class WorkerContext:
    client: redis.Redis
    settings: WorkerSettings
    worker_id: str
    device: str
    ledger: NonceLedger
    info: dict[str, Any] = field(default_factory=dict)
    # Set by SIGTERM/SIGINT: claim nothing more, stop the current run.
    shutdown: threading.Event = field(default_factory=threading.Event)
