"""Where the client CLI connects and as whom: `--url/--token`, else
`ESPER_URL/ESPER_TOKEN`, else the profile `esper login` saved, else the local
gateway (`esper up`'s default address, auth off).

Profiles live in `$XDG_CONFIG_HOME/esper/profiles.json` (default
`~/.config/esper/`), mode 0600 since they hold tokens:
`{"default": "NAME", "profiles": {"NAME": {"url": ..., "token": ...}}}`.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCAL_URL = "http://127.0.0.1:8000"
DEFAULT_PROFILE = "default"


def profiles_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "esper" / "profiles.json"


def read_profiles() -> dict[str, Any]:
    path = profiles_path()
    if not path.exists():
        return {"default": None, "profiles": {}}
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def save_profile(name: str, url: str, token: str | None) -> Path:
    """Store (or replace) profile `name` and make it the default."""
    data = read_profiles()
    data["profiles"][name] = {"url": url, "token": token}
    data["default"] = name
    path = profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 before the token is written: never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
    return path


@dataclass(frozen=True)
class Target:
    """A gateway and the token to present there (None: auth off)."""

    url: str
    token: str | None

    @classmethod
    def resolve(
        cls, url: str | None, token: str | None, profile: str | None
    ) -> "Target":
        saved = _profile(profile)
        url = url or os.environ.get("ESPER_URL") or saved.get("url") or LOCAL_URL
        token = token or os.environ.get("ESPER_TOKEN") or saved.get("token")
        return cls(url.rstrip("/"), token or None)


def _profile(name: str | None) -> dict[str, Any]:
    data = read_profiles()
    chosen = name or data.get("default")
    if chosen is None:
        return {}
    profile: dict[str, Any] | None = data["profiles"].get(chosen)
    if profile is None and name is not None:
        raise KeyError(f"no profile {name!r} in {profiles_path()}")
    return profile or {}
