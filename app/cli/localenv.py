"""Environment for the all-in-one local stack: SQLite, auth off, a dev secret."""

import os
import secrets
from pathlib import Path


def secret_file(data_dir: Path) -> Path:
    return data_dir / "leyline.secret"


def leyline_secret(data_dir: Path) -> str:
    """ESPER_LEYLINE_SECRET, else one generated once and kept in the data dir."""
    configured = os.environ.get("ESPER_LEYLINE_SECRET")
    if configured:
        return configured
    path = secret_file(data_dir)
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_hex(32)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def local_env(data_dir: Path) -> dict[str, str]:
    """ESPER_ variables every child gets; the user's own settings win."""
    env = {
        "ESPER_DATABASE_URL": os.environ.get(
            "ESPER_DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'esper.db'}"
        ),
        "ESPER_LOCAL_MODE": "1",
        "ESPER_AUTH": os.environ.get("ESPER_AUTH", "off"),
        "ESPER_DATA_DIR": str(data_dir),
        "ESPER_LEYLINE_SECRET": leyline_secret(data_dir),
        # All in one machine: training yields to the gateway, Redis and the
        # operator's own programs (workers/priority.py has the figures).
        "ESPER_TRAINING_NICE": os.environ.get("ESPER_TRAINING_NICE", "15"),
    }
    return env


def auth_headers() -> dict[str, str]:
    """With auth on, the CLI speaks as ESPER_ADMIN_TOKEN."""
    token = os.environ.get("ESPER_ADMIN_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}
