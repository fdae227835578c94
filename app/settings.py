"""Gateway settings: one class, environment prefix ESPER_."""

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api_schemas.plugins import import_prefixes


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESPER_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/esper.db",
        description="SQLAlchemy async URL; postgresql:// is rewritten to asyncpg.",
    )
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
    auth: str = Field(
        default="on",
        description="`on`, or `off` to disable authentication (local mode only: "
        "a gateway outside it refuses to start).",
    )
    admin_token: str | None = Field(
        default=None,
        description="The first admin API token, created at first start; unset: "
        "one is generated and printed once. A secret.",
    )
    key_pepper: str | None = Field(
        default=None,
        description="Keyed-hash pepper for API tokens (default: the Leyline secret).",
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
    reaper_interval_s: float = Field(
        default=1.0, description="How often the reaper looks for lost workers."
    )
    lost_worker_retention_s: float = Field(
        default=3600.0,
        ge=0,
        description="A lost worker stays in GET /api/v1/workers this long after "
        "its last heartbeat, then leaves the list (its row stays).",
    )
    outbox_interval_s: float = Field(
        default=0.2,
        description="How often the relay retries outbox rows not yet on the bus.",
    )
    telemetry_maxlen: int = Field(
        default=100_000,
        description="Packets kept per run's telemetry stream in Redis (MAXLEN ~).",
    )
    command_expire_s: float = Field(
        default=300.0,
        description="A command still unacked this long after it was issued expires "
        "(`not_acked`). Keep it at least the workers' freshness window "
        "(ESPER_COMMAND_MAX_AGE_S, 300 s), past which they refuse it.",
    )
    max_body_bytes: int = Field(
        default=1_000_000, description="Largest request body accepted (413 above)."
    )
    key_reload_s: float = Field(
        default=1.0,
        gt=0,
        description="How often a gateway reloads the live API keys "
        "it holds; a key revoked on another replica works here until then.",
    )
    allowed_origins: str = Field(
        default="",
        description="Comma-separated browser origins (`https://ops.example.com`) "
        "besides the gateway's own that may open WebSockets, send state-changing "
        "requests and read responses (CORS). No wildcard. Another origin gets "
        "403 `origin_not_allowed`; clients that send no Origin are unaffected.",
    )
    bench_bare: bool = Field(
        default=False,
        description="Mount GET /bench/bare, the "
        "api-throughput benchmark's baseline endpoint.",
    )
    # Rate limits (app/ratelimit.py): `limits` strings such as `1200/minute`
    # or `100/second`, per key (per client address with auth off); `off` none.
    # Unset: off under `esper up` (one user on one machine), else the default.
    rate_limit: str | None = Field(
        default=None,
        description="Reads (GET/HEAD) per key; unset: 1200/minute, off in local mode.",
    )
    rate_limit_writes: str | None = Field(
        default=None,
        description="Writes per key; unset: 300/minute, off in local mode. "
        "Emergency halts are never limited.",
    )
    rate_limit_storage: str | None = Field(
        default=None,
        description="Where counters live: unset, the gateway's Redis (shared by "
        "replicas); `memory://` counts per gateway process.",
    )
    # Telemetry (issue 5): fan-out bounds, history persistence and retention.
    ws_queue_frames: int = Field(
        default=4096,
        description="Frames a WebSocket client may fall behind before it is "
        "closed with 4408.",
    )
    telemetry_persist_batch: int = Field(
        default=2000, description="Most rows per history insert (one transaction)."
    )
    telemetry_persist_interval_s: float = Field(
        default=0.25, description="How often telemetry history is written."
    )
    telemetry_retention_days: float = Field(
        default=30.0, description="History older than this is pruned; 0 keeps all."
    )
    telemetry_prune_interval_s: float = Field(
        default=3600.0, description="How often history past retention is pruned."
    )

    @property
    def read_limit(self) -> str:
        return self._limit(self.rate_limit, "1200/minute")

    @property
    def write_limit(self) -> str:
        return self._limit(self.rate_limit_writes, "300/minute")

    def _limit(self, value: str | None, default: str) -> str:
        if value is not None:  # set explicitly: wins, under `esper up` too
            return value
        return "off" if self.local_mode else default

    @property
    def import_prefixes(self) -> list[str]:
        """Module prefixes a run spec may name by import path (SECURITY.md)."""
        return import_prefixes(self.allow_import_paths, self.local_mode)

    @property
    def auth_enabled(self) -> bool:
        return not (self.local_mode and self.auth.lower() == "off")

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(
            o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()
        )

    @property
    def artifact_store_url(self) -> str:
        return self.artifact_url or str((self.data_dir / "artifacts").resolve())

    @property
    def async_database_url(self) -> str:
        url = self.database_url
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain) :]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
        return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
