"""A small in-process sliding-window rate limiter (login attempts, subscribe requests).

It lives in the memory of the ``distributor serve`` process: a restart forgets it, and
several server processes would each count on their own (then put the limits at the proxy).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float, *,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _fresh(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._sweep(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def _sweep(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
            del self._hits[key]
        while len(self._hits) >= self.max_keys:  # still full: forget the oldest keys
            self._hits.pop(next(iter(self._hits)))

    def blocked_for(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: it may now). Does not count a hit."""
        with self._lock:
            now = self.clock()
            hits = self._fresh(key, now)
            if len(hits) < self.limit:
                return 0.0
            return max(0.0, hits[0] + self.window - now)

    def hit(self, key: str) -> bool:
        """Count a hit; False when the key was over its limit already (then not counted)."""
        with self._lock:
            now = self.clock()
            hits = self._fresh(key, now)
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)
