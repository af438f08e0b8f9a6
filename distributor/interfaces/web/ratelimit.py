"""The web side's one rate limiter, and the growing delays after failed logins.

- :class:`KeyedLimiter`: at most ``rate`` requests per ``period`` per key (a client address, an
  address on a list), one aiolimiter leaky bucket per key: the same library that paces the
  platforms. Subscribe requests use it.
- :class:`Backoff`: after failures (wrong passwords), each further failure makes the key wait
  longer (the first few cost nothing, then 1 s, 2 s, 4 s, ... up to a ceiling). It slows
  guessing down without ever locking anybody out for good: a wait always ends, and a success
  forgets it.

Both live in the memory of the ``distributor serve`` process: a restart forgets them, and
several server processes would each count on their own (then put the limits at the proxy).
Both hold at most ``max_keys`` keys, forgetting the idle ones first.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiolimiter import AsyncLimiter


class KeyedLimiter:
    """At most ``rate`` hits per ``period`` seconds per key (a burst of ``rate``, then one
    every ``period / rate`` seconds)."""

    def __init__(self, rate: int, period: float, *, max_keys: int = 100_000):
        self.rate = rate
        self.period = period
        self.max_keys = max_keys
        self._buckets: dict[str, AsyncLimiter] = {}

    async def hit(self, key: str) -> bool:
        """Take one from the key's bucket; False (nothing taken) when it is empty."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._sweep()
            bucket = self._buckets[key] = AsyncLimiter(self.rate, self.period)
        if not bucket.has_capacity():
            return False
        await bucket.acquire()  # has capacity: returns at once
        return True

    def retry_after(self) -> int:
        """Seconds until an empty bucket holds one again (at most)."""
        return max(1, math.ceil(self.period / self.rate))

    def _sweep(self) -> None:
        for key in [k for k, b in self._buckets.items() if b.has_capacity(self.rate)]:
            del self._buckets[key]  # full again: the same as never seen
        while len(self._buckets) >= self.max_keys:  # still full: forget the oldest keys
            self._buckets.pop(next(iter(self._buckets)))


@dataclass
class _Failures:
    count: int
    last: float


class Backoff:
    """Growing delays after failures, per key: the first ``free`` failures cost nothing; after
    each further one the key waits ``first`` seconds, doubled every time, at most ``longest``.
    Failures older than ``forget`` seconds are forgotten."""

    def __init__(self, *, free: int, first: float = 1.0, longest: float = 900.0,
                 forget: float = 24 * 3600.0, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000):
        self.free, self.first, self.longest, self.forget = free, first, longest, forget
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def delay(self, count: int) -> float:
        """The wait after ``count`` failures."""
        if count <= self.free:
            return 0.0
        return float(min(self.longest, self.first * 2 ** min(count - self.free - 1, 40)))

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        with self._lock:
            found = self._failures.get(key)
            if found is None:
                return 0.0
            now = self.clock()
            if now - found.last > self.forget:
                del self._failures[key]
                return 0.0
            return max(0.0, found.last + self.delay(found.count) - now)

    def failed(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            found = self._failures.pop(key, None)  # re-inserted last: the dict stays in age order
            if found is None or now - found.last > self.forget:
                found = _Failures(0, now)
            found.count, found.last = found.count + 1, now
            if len(self._failures) >= self.max_keys:
                self._failures.pop(next(iter(self._failures)))
            self._failures[key] = found

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
