"""``StateStore.prune`` (plugin API 1.4) in memory: ``MemoryState`` remembers when each key was
written and forgets one family of keys by that age; a store written for an earlier API, with
no ``prune`` of its own, still works and forgets nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from distributor.plugin import API_VERSION, MemoryState, StateStore

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


class Clock:
    """A clock a test moves on."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_the_api_version_says_prune_is_there() -> None:
    major, minor = (int(part) for part in API_VERSION.split("."))
    assert (major, minor) >= (1, 4)


def test_prune_forgets_the_prefix_keys_written_longer_ago_than_the_age() -> None:
    clock = Clock()
    state = MemoryState({"instance": {"max_characters": 500}}, clock=clock)
    state.put("media:old", "101")
    state.put("mediaX", "no family")
    clock.now = T0 + timedelta(days=2)
    state.update("media:young", lambda _: "102")
    clock.now = T0 + timedelta(days=8)
    assert state.prune("media:", timedelta(days=7)) == 1
    assert state.keys() == ["instance", "media:young", "mediaX"]
    clock.now = T0 + timedelta(days=9)  # media:young is exactly seven days old: not more
    assert state.prune("media:", timedelta(days=7)) == 0
    clock.now += timedelta(seconds=1)
    assert state.prune("media:", timedelta(days=7)) == 1
    assert state.keys() == ["instance", "mediaX"]
    assert state.get("instance") == {"max_characters": 500}


def test_a_key_written_again_is_young_again_and_a_deleted_one_is_forgotten() -> None:
    clock = Clock()
    state = MemoryState(clock=clock)
    for key in ("cid:a", "cid:b", "cid:c"):
        state.put(key, "old")
    clock.now = T0 + timedelta(days=100)
    state.put("cid:a", "again")
    state.update("cid:b", lambda value: value + "!")
    assert state.delete("cid:c")
    state.put("cid:c", "new")
    assert state.prune("cid:", timedelta(days=90)) == 0
    assert state.keys("cid:") == ["cid:a", "cid:b", "cid:c"]


def test_prune_wants_a_prefix_and_a_positive_age() -> None:
    state = MemoryState({"instance": 1})
    for prefix, age in (("", timedelta(days=1)), ("media:", timedelta(0)),
                        ("media:", timedelta(days=-1))):
        with pytest.raises(ValueError, match="prune takes"):
            state.prune(prefix, age)
    assert state.keys() == ["instance"]


class DictState(StateStore):
    """A third party's store written for API 1.3: the five methods, no ``prune``."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value

    def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None

    def update(self, key: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
        self.data[key] = fn(self.data.get(key, default))
        return self.data[key]

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.data if k.startswith(prefix))


def test_a_store_written_before_prune_still_works_and_forgets_nothing() -> None:
    state = DictState()  # an abstract prune would make this raise TypeError
    state.put("media:old", "1")
    assert state.prune("media:", timedelta(days=7)) == 0
    assert state.keys() == ["media:old"]
