"""Worker settings: the same ESPER_ environment names the gateway reads."""

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api_schemas.plugins import import_prefixes
from api_schemas.signing import DEFAULT_MAX_AGE_S, DEFAULT_MAX_SKEW_S, parse_keyring


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESPER_", extra="ignore")

    redis_url: str = Field(default="redis://127.0.0.1:6379/0")
    data_dir: Path = Field(default=Path("./var"))
    artifact_url: str | None = Field(
        default=None,
        description="The artifact store, an fsspec URL (`s3://bucket/prefix`, "
        "a directory); default `{data_dir}/artifacts`.",
    )
    artifact_options: dict[str, Any] = Field(
        default_factory=dict,
        description="fsspec storage options of the store (JSON), e.g. "
        '`{"endpoint_url": "http://minio:9000"}`.',
    )
    upload_queue: int = Field(
        default=4, ge=1, le=1000, description="Uploads a run may have queued."
    )
    upload_drain_s: float = Field(
        default=120.0,
        description="How long a run's end waits for its queued uploads.",
    )
    local_mode: bool = Field(default=False)
    allow_import_paths: str | None = Field(
        default=None,
        description="Module prefixes a run may name by import path (comma-separated, "
        "`*` any, empty none); unset: `*` in local mode, none elsewhere.",
    )
    leyline_secret: str | None = Field(default=None)
    leyline_key_id: str = Field(default="k1")
    leyline_keys: str | None = Field(default=None, description="Extra `id=secret,...`.")
    worker_ttl_s: float = Field(default=8.0, description="Liveness key TTL.")
    heartbeat_s: float = Field(default=1.5, description="Liveness refresh period.")
    telemetry_maxlen: int = Field(default=100_000)
    telemetry_flush_s: float = Field(default=0.03, description="Publisher period.")
    telemetry_batch: int = Field(default=500, description="Most packets a pipeline.")
    progress_interval_s: float = Field(default=0.5)
    halt_deadline_s: float = Field(
        default=10.0, description="A halted step that runs longer kills the worker."
    )
    command_max_age_s: float = Field(default=DEFAULT_MAX_AGE_S)
    command_max_skew_s: float = Field(default=DEFAULT_MAX_SKEW_S)
    nonce_capacity: int = Field(default=100_000)
    cpu_threads: int | None = Field(
        default=None,
        description="Torch CPU threads (default: half the cores, at least one).",
    )
    claim_block_ms: int = Field(default=1000, description="XREADGROUP block time.")
    training_nice: int = Field(
        default=0,
        ge=0,
        le=19,
        description="Nice value of the training thread (0: leave it). `esper up` "
        "sets 15; see workers/priority.py for when not to.",
    )

    @property
    def import_prefixes(self) -> list[str]:
        """Module prefixes a run spec may name by import path (SECURITY.md)."""
        return import_prefixes(self.allow_import_paths, self.local_mode)

    @property
    def keyring(self) -> dict[str, str]:
        return parse_keyring(
            self.leyline_secret, self.leyline_keys, self.leyline_key_id
        )

    @property
    def nonce_ttl_s(self) -> float:
        # Anything older than this is rejected as stale anyway, so a nonce need
        # not be remembered for longer.
        return self.command_max_age_s + self.command_max_skew_s

    @property
    def checkpoint_root(self) -> Path:
        return self.data_dir / "checkpoints"

    @property
    def artifact_store_url(self) -> str:
        return self.artifact_url or str((self.data_dir / "artifacts").resolve())

    @property
    def upload_staging(self) -> Path:
        """Hard links to files waiting for upload (beside the checkpoints, so
        on the same file system)."""
        return self.data_dir / "uploads"
