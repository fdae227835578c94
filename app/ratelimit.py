"""Per-key rate limits (API.md Conventions: 429 with `Retry-After`, per key;
emergency halts never limited), with the `limits` library.

A moving window per caller and lane: reads (GET, HEAD) and writes (the rest)
count separately, so a dashboard polling runs never uses up a key's writes.
The caller is its API key, or its client address when auth is off. Counters
live in the gateway's Redis by default, so every replica shares them; with
`ESPER_RATE_LIMIT_STORAGE=memory://` each gateway counts alone (a client can
then get N times the limit from N replicas).
"""

import json
import logging
import math
import time

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from app.auth import Principal
from app.errors import AppError
from app.settings import Settings

log = logging.getLogger("esper.ratelimit")

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FLEET_HALT = "/api/v1/emergency/halt"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"


def _limit(text: str) -> RateLimitItem | None:
    """`600/minute` (any `limits` string); `off`, `0` or empty: no limit."""
    text = text.strip().lower()
    return None if text in ("", "off", "0", "none") else parse(text)


def _storage_uri(settings: Settings) -> str:
    uri = settings.rate_limit_storage or settings.redis_url
    if uri.startswith(("redis://", "rediss://")):
        return "async+" + uri
    return uri if uri.startswith("async+") else f"async+{uri}"


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.reads = _limit(settings.read_limit)
        self.writes = _limit(settings.write_limit)
        self._storage: Storage | None = None
        self._uri = _storage_uri(settings)

    def _strategy(self) -> MovingWindowRateLimiter:
        if self._storage is None:  # connects lazily, on the first limited call
            options = {"implementation": "redispy"} if "redis" in self._uri else {}
            storage = storage_from_string(self._uri, **options)
            assert isinstance(storage, Storage), "an async+ storage URI"
            self._storage = storage
        return MovingWindowRateLimiter(self._storage)

    async def check(self, request: Request, principal: Principal) -> None:
        """Raises RateLimited (429 + Retry-After) when the caller is over."""
        write = request.method not in READ_METHODS
        item = self.writes if write else self.reads
        if item is None or await is_emergency_halt(request):
            return
        caller = _caller(request, principal)
        lane = "w" if write else "r"
        strategy = self._strategy()
        try:
            if await strategy.hit(item, "esper", lane, caller):
                return
            stats = await strategy.get_window_stats(item, "esper", lane, caller)
        except Exception:  # noqa: BLE001 - a limiter outage must not fail requests
            log.warning("rate limit storage unavailable; allowed", exc_info=True)
            return
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"Rate limit of {item} for {'writes' if write else 'reads'} exceeded; "
            f"retry in {retry} s.",
            headers={"Retry-After": str(retry)},
            details={"limit": str(item), "retry_after_s": retry},
        )


def _caller(request: Request, principal: Principal) -> str:
    if principal.auth:
        return f"key:{principal.key_id}"
    client = request.client
    return f"ip:{client.host if client else 'unknown'}"


async def is_emergency_halt(request: Request) -> bool:
    """The fleet halt, or a run command whose type is `emergency_halt`."""
    path = request.url.path
    if request.method != "POST":
        return False
    if path == FLEET_HALT:
        return True
    if not (path.startswith("/api/v1/runs/") and path.endswith("/commands")):
        return False
    try:  # FastAPI read (and cached) the body before resolving dependencies
        body = json.loads(await request.body())
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("type") == "emergency_halt"
