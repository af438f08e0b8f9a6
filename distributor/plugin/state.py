"""The small key-value state a channel may keep (``ctx.state``).

The core keeps it in its own table (``channel_kv``: channel, key, JSON value, updated_at),
scoped to the channel, so a channel never needs the ledger's tables. Values are anything JSON
can hold. :meth:`StateStore.update` is atomic: two workers on PostgreSQL updating one key never
lose an update. The calls are quick local database operations; call them from async code as
they are.

:class:`MemoryState` keeps the same promises in memory: for tests and one-off tools.
"""

from __future__ import annotations

import copy
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

#: longest key the store takes
MAX_KEY = 200


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise ValueError(f"a state key is a non-empty string of at most {MAX_KEY} characters, "
                         f"not {key!r}")
    return key


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


class MemoryState(StateStore):
    """A :class:`StateStore` in memory (tests, tools). Thread-safe."""

    def __init__(self, initial: dict[str, Any] | None = None):
        self._data: dict[str, Any] = {k: as_json(v) for k, v in (initial or {}).items()}
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return copy.deepcopy(self._data.get(check_key(key), default))

    def put(self, key: str, value: Any) -> None:
        value = as_json(value)
        with self._lock:
            self._data[check_key(key)] = value

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._data.pop(check_key(key), _MISSING) is not _MISSING

    def update(self, key: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
        with self._lock:
            current = copy.deepcopy(self._data.get(check_key(key), default))
            new = as_json(fn(current))
            self._data[key] = new
            return copy.deepcopy(new)

    def keys(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(k for k in self._data if k.startswith(prefix))


_MISSING = object()
