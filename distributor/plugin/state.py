"""The small key-value state a channel may keep (``ctx.state``).

The core keeps it in its own table (``channel_kv``: channel, key, JSON value, updated_at),
scoped to the channel, so a channel never needs the ledger's tables. Values are anything JSON
can hold. :meth:`StateStore.update` is atomic: two workers on PostgreSQL updating one key never
lose an update. :meth:`StateStore.prune` (API 1.4) forgets a family of keys (one prefix) not
written for a while: what a channel keeps per post is dropped once no retry, reply or editor's
action may still need it. The calls are quick local database operations; call them from async
code as they are.

:class:`MemoryState` keeps the same promises in memory: for tests and one-off tools.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from distributor.clock import utcnow

#: longest key the store takes
MAX_KEY = 200


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise ValueError(f"a state key is a non-empty string of at most {MAX_KEY} characters, "
                         f"not {key!r}")
    return key


def check_prune(prefix: str, older_than: timedelta) -> tuple[str, timedelta]:
    """The arguments of :meth:`StateStore.prune`, checked: a family's non-empty prefix (a
    channel's long-lived keys are never swept by accident) and a positive age."""
    if not isinstance(prefix, str) or not prefix or len(prefix) > MAX_KEY:
        raise ValueError(f"prune takes the non-empty prefix of a family of keys, not "
                         f"{prefix!r}")
    if not isinstance(older_than, timedelta) or older_than <= timedelta(0):
        raise ValueError(f"prune takes a positive timedelta, not {older_than!r}")
    return prefix, older_than


def as_json(value: Any) -> Any:
    """The value as it will come back from the store (a JSON round trip); TypeError if JSON
    cannot hold it."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"channel state must be JSON (dict, list, str, int, float, bool, "
                        f"None): {exc}") from None


class StateStore(ABC):
    """A channel's own key-value state, kept by the core across restarts and processes."""

    @abstractmethod
    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, else ``default``."""

    @abstractmethod
    def put(self, key: str, value: Any) -> None:
        """Store ``value`` (anything JSON holds) under ``key``."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Forget ``key``; True if it was there."""

    @abstractmethod
    def update(self, key: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
        """Atomically replace the value under ``key`` by ``fn(value)`` (``fn(default)`` when
        there is none) and return the new value. ``fn`` may run again if another process
        won a race, so it must have no side effects; if it raises, nothing changes."""

    @abstractmethod
    def keys(self, prefix: str = "") -> list[str]:
        """The keys stored, those starting with ``prefix``, sorted."""

    def prune(self, prefix: str, older_than: timedelta) -> int:
        """(API 1.4) Forget the keys starting with ``prefix`` whose value was last written
        (``put``, ``update``) more than ``older_than`` ago; return how many. ``prefix`` must
        not be empty: name the family of keys a channel keeps per post (``"media:"``), so its
        long-lived keys stay. A store written for an earlier API, which does not know when
        its keys were written, forgets nothing and returns 0."""
        check_prune(prefix, older_than)
        return 0


class MemoryState(StateStore):
    """A :class:`StateStore` in memory (tests, tools). Thread-safe. It remembers when each key
    was written, by ``clock`` (aware UTC; a test may pass one it moves on)."""

    def __init__(self, initial: dict[str, Any] | None = None, *,
                 clock: Callable[[], datetime] = utcnow):
        self._clock = clock
        self._data: dict[str, Any] = {k: as_json(v) for k, v in (initial or {}).items()}
        now = clock()
        self._written: dict[str, datetime] = dict.fromkeys(self._data, now)
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return copy.deepcopy(self._data.get(check_key(key), default))

    def put(self, key: str, value: Any) -> None:
        value = as_json(value)
        with self._lock:
            self._data[check_key(key)] = value
            self._written[key] = self._clock()

    def delete(self, key: str) -> bool:
        with self._lock:
            self._written.pop(check_key(key), None)
            return self._data.pop(key, _MISSING) is not _MISSING

    def update(self, key: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
        with self._lock:
            current = copy.deepcopy(self._data.get(check_key(key), default))
            new = as_json(fn(current))
            self._data[key] = new
            self._written[key] = self._clock()
            return copy.deepcopy(new)

    def keys(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(k for k in self._data if k.startswith(prefix))

    def prune(self, prefix: str, older_than: timedelta) -> int:
        check_prune(prefix, older_than)
        with self._lock:
            cutoff = self._clock() - older_than
            old = [k for k in self._data if k.startswith(prefix) and self._written[k] < cutoff]
            for key in old:
                del self._data[key], self._written[key]
            return len(old)


_MISSING = object()


class PeriodicPrune:
    """(API 1.4) What a channel that keeps state per post calls after each send: forget each
    family of keys (``prefix -> retention``, :meth:`StateStore.prune`) at most once every
    ``every`` seconds for this instance, in a thread. A failure is one warning line (its text
    passed through ``redact``), never the send's; returns how many keys were forgotten."""

    def __init__(self, families: Mapping[str, timedelta], *, every: float = 3600.0,
                 redact: Callable[[str], str] = str):
        self.families = dict(families)
        self.every = every
        self.redact = redact
        self._after = 0.0  # time.monotonic() when old state may be forgotten again

    async def __call__(self, state: StateStore,
                       log: logging.Logger | logging.LoggerAdapter[Any]) -> int:
        now = time.monotonic()
        if now < self._after:
            return 0
        self._after = now + self.every
        try:
            gone = await asyncio.to_thread(
                lambda: sum(state.prune(prefix, age) for prefix, age in self.families.items()))
        except Exception as exc:  # the post is made: never fail it for this
            said = (str(exc).splitlines() or [""])[0][:200]
            log.warning("could not forget the old per-post state (%s: %s); next try in %.0f "
                        "minutes", type(exc).__name__, self.redact(said), self.every / 60)
            return 0
        if gone:
            log.info("forgot %d per-post keys older than their retention", gone)
        return gone
