"""Worker settings: the same ESPER_ environment names the gateway reads."""

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api_schemas.enums import Level
from api_schemas.plugins import import_prefixes
from api_schemas.signing import DEFAULT_MAX_AGE_S, DEFAULT_MAX_SKEW_S, parse_keyring


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESPER_", extra="ignore")

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="The bus. Gateways and workers must all use the same Redis; "
        "`esper up` starts a bundled one when this does not answer.",
    )
    data_dir: Path = Field(
        default=Path("./var"),
        description="Local state: the default artifact store, the worker's "
        "checkpoint staging copies, and under `esper up` SQLite, Redis and logs.",
    )
    artifact_url: str | None = Field(
        default=None,
        description="The artifact store (checkpoints, model bundles, reports), an "
        "fsspec URL: a directory (a shared file system for several hosts) or "
        "`s3://bucket/prefix` (`esper[s3]`; credentials as botocore reads them); "
        "default `{data_dir}/artifacts`. Every gateway and worker must use the "
        "same one (docs/artifacts.md).",
    )
    artifact_options: dict[str, Any] = Field(
        default_factory=dict,
        description="fsspec storage options of the store (JSON), e.g. "
        '`{"endpoint_url": "http://minio:9000"}`.',
    )
    upload_queue: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="Uploads a run may have queued; past it the oldest queued "
        "checkpoint is dropped (a warning event), never the step.",
    )
    upload_drain_s: float = Field(
        default=120.0,
        description="How long a run's end waits for its queued uploads.",
    )
    local_mode: bool = Field(
        default=False,
        description="All-in-one `esper up`: auth may be off, "
        "a development signing secret may be generated.",
    )
    allow_import_paths: str | None = Field(
        default=None,
        description="Module prefixes a run may name by import path (comma-separated, "
        "`*` any, empty none); unset: `*` in local mode, none elsewhere.",
    )
    leyline_secret: str | None = Field(
        default=None,
        description="HMAC-SHA256 secret that signs commands; the same on every "
        "gateway and worker. Required outside local mode (`esper up` generates "
        "one in the data dir). A secret.",
    )
    leyline_key_id: str = Field(
        default="k1", description="Key id of ESPER_LEYLINE_SECRET in signatures."
    )
    leyline_keys: str | None = Field(
        default=None,
        description="Extra signing keys `id=secret,...` (rotation). A secret.",
    )
    worker_ttl_s: float = Field(
        default=8.0,
        description="Worker liveness key TTL: a worker silent this long is lost "
        "(its run re-queued or failed per its restart policy).",
    )
    heartbeat_s: float = Field(
        default=1.5, description="Liveness refresh period (keep it well under the TTL)."
    )
    telemetry_maxlen: int = Field(
        default=100_000,
        description="Packets kept per run's telemetry stream in Redis (MAXLEN ~).",
    )
    telemetry_flush_s: float = Field(
        default=0.03, description="How often telemetry is published to Redis."
    )
    telemetry_batch: int = Field(
        default=500, description="Most packets in one Redis pipeline."
    )
    emergency_max_per_min: int = Field(
        default=120,
        ge=0,
        le=1_000_000,
        description="Token bucket of a run's emergency lane: packets a minute "
        "(and the largest burst) that skip the batched telemetry and reach "
        "/ws/fleet at once; more are demoted to the bulk path (their run's "
        "stream and history only) and counted, never dropped. 0: all demoted.",
    )
    emergency_threshold: Level = Field(
        default=Level.critical,
        description="Lowest packet level that takes the emergency lane "
        "(`info`, `warning` or `critical`; `critical`: escalations, verifier "
        "failures, isolation violations, "
        "halts; `warning` adds warnings).",
    )
    progress_interval_s: float = Field(
        default=0.5,
        description="How often a run's progress (step, epoch) is published and "
        "its attempt fence checked.",
    )
    halt_deadline_s: float = Field(
        default=10.0, description="A halted step that runs longer kills the worker."
    )
    command_max_age_s: float = Field(
        default=DEFAULT_MAX_AGE_S,
        description="A command issued longer ago than this is rejected as stale.",
    )
    command_max_skew_s: float = Field(
        default=DEFAULT_MAX_SKEW_S,
        description="Clock skew tolerated for a command issued in the future.",
    )
    nonce_capacity: int = Field(
        default=100_000, description="Command nonces remembered (replay defence)."
    )
    cpu_threads: int | None = Field(
        default=None,
        description="Torch CPU threads (default: half the cores, at least one); "
        "the spare cores keep the command reader and telemetry responsive.",
    )
    claim_block_ms: int = Field(
        default=1000,
        description="How long an idle worker's claim (XREADGROUP) blocks waiting "
        "for a run before it checks its drain flag again.",
    )
    training_nice: int = Field(
        default=0,
        ge=0,
        le=19,
        description="Nice value of the training thread (0: leave it). `esper up` "
        "sets 15. Keep 0 on a host with CPU-bound neighbours (data loaders): "
        "there a nice training thread starves (workers/priority.py).",
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
