"""A bounded ledger of command nonces seen recently (replay protection)."""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class NonceLedger:
    """Remembers each nonce for `ttl_s`, holding at most `capacity` of them.

    Entries are kept in arrival order, so expiry and eviction both pop from the
    front. A nonce evicted before its TTL could be replayed within the freshness
    window; `evictions` counts those so an operator can size the ledger.
    """

    def __init__(
        self, capacity: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.ttl_s = ttl_s
        self.evictions = 0
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def remember(self, nonce: str) -> bool:
        """Record `nonce`; False when it was already seen (a replay)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if nonce in self._expiry:
                return False
            while len(self._expiry) >= self.capacity:
                self._expiry.popitem(last=False)
                self.evictions += 1
            self._expiry[nonce] = now + self.ttl_s
            return True

    def clear(self) -> None:
        with self._lock:
            self._expiry.clear()

    def _expire(self, now: float) -> None:
        while self._expiry:
            nonce, expires = next(iter(self._expiry.items()))
            if expires > now:
                return
            del self._expiry[nonce]
