"""The channels' key-value state (``ctx.state``) in the core's own table, on a real SQLite file
and on the real PostgreSQL: scoped per channel, kept across restarts, and atomic updates from
two workers at once never lose one; the scopes channels share (``env.shared_state``) in the
same table, apart from every channel's own state; ``prune`` (API 1.4) deleting one family of
keys by the age of their rows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from support.channel_kv_rows import age_rows, kv_rows

from distributor.configfile import load_config
from distributor.ledger.channel_state import StoredState, shared_state
from distributor.runtime import Runtime
from distributor.store import Store, open_store
from distributor.store.models import ChannelKV


@pytest.fixture
def store(db_url: str) -> Store:
    opened = open_store(db_url)
    yield opened
    opened.dispose()


def test_values_are_kept_per_channel_and_across_a_restart(store: Store, db_url: str) -> None:
    hook, x = StoredState(store, "hook"), StoredState(store, "x")
    hook.put("cursor", {"since": "2026-12-01T06:00:00+07:00", "seen": [1, 2]})
    x.put("cursor", "x's own")
    assert hook.get("cursor") == {"since": "2026-12-01T06:00:00+07:00", "seen": [1, 2]}
    assert x.get("cursor") == "x's own" and x.get("other", "none") == "none"
    hook.put("cursor", None)  # None is a value, not a deletion
    assert hook.keys() == ["cursor"] and hook.get("cursor", "default") is None

    again = open_store(db_url)
    try:
        assert StoredState(again, "x").get("cursor") == "x's own"
        assert StoredState(again, "x").delete("cursor")
        assert not StoredState(again, "x").delete("cursor")
        assert StoredState(again, "x").keys() == []
    finally:
        again.dispose()
    with store.session() as session:
        assert [(r.channel, r.key) for r in session.scalars(select(ChannelKV))] == [
            ("hook", "cursor")]


def test_keys_by_prefix_take_underscores_and_percents_literally(store: Store) -> None:
    state = StoredState(store, "hook")
    for key in ("digest:1", "digest:2", "digest_x", "d%x", "other"):
        state.put(key, 1)
    assert state.keys("digest:") == ["digest:1", "digest:2"]
    assert state.keys("d%") == ["d%x"]


def test_an_update_that_raises_changes_nothing(store: Store) -> None:
    state = StoredState(store, "hook")
    state.put("n", 1)

    def boom(_: object) -> object:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        state.update("n", boom)
    with pytest.raises(RuntimeError):
        state.update("fresh", boom)
    assert state.get("n") == 1 and state.keys() == ["n"]
    with pytest.raises(TypeError, match="JSON"):
        state.put("n", {1, 2})


def test_two_workers_updating_one_key_lose_no_update(db_url: str, tmp_path: Path) -> None:
    """Two processes' worth of stores (each its own engine and connections), each adding one
    to the same counter 25 times, at the same time."""
    stores = [open_store(db_url) for _ in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(store: Store) -> None:
        state = StoredState(store, "hook")
        start.wait()
        try:
            for _ in range(25):
                state.update("count", lambda n: {"n": n["n"] + 1}, default={"n": 0})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        assert StoredState(stores[0], "hook").get("count") == {"n": 50}
    finally:
        for store in stores:
            store.dispose()


def test_a_shared_scope_is_one_store_for_every_channel_that_names_it(
        store: Store, db_url: str) -> None:
    shared_state(store, "telegram/k1").put("slot", 1.5)
    StoredState(store, "telegram/k1").put("slot", "a channel's own")  # a channel so named
    again = open_store(db_url)
    try:  # another process
        assert shared_state(again, "telegram/k1").get("slot") == 1.5
        assert shared_state(again, "telegram/k2").get("slot") is None
        assert StoredState(again, "telegram/k1").get("slot") == "a channel's own"
    finally:
        again.dispose()
    with store.session() as session:
        assert sorted((r.channel, r.key) for r in session.scalars(select(ChannelKV))) == [
            ("shared:telegram/k1", "slot"), ("telegram/k1", "slot")]


async def test_the_runtime_gives_each_channel_its_state_and_the_shared_scopes(
        write_config: Callable[..., Path], db_url: str) -> None:
    rt = Runtime.open(load_config(write_config(
        "execution: distributed\nchannels:\n  - {name: a, type: outbox}\n"
        "  - {name: b, type: outbox}\n", database=db_url)), dry_run=True)
    try:
        a, b = rt.env("a"), rt.env("b")
        a.state.put("cursor", 7)
        a.shared_state("outbox/one").update("n", lambda n: n + 1, default=0)
        b.shared_state("outbox/one").update("n", lambda n: n + 1, default=0)
        assert StoredState(rt.store, "a").get("cursor") == 7  # ctx.state's rows
        assert b.state.get("cursor") is None
        assert shared_state(rt.store, "outbox/one").get("n") == 2
        assert (a.channel, a.dry_run, a.distributed, a.owner) == ("a", True, True, rt.owner)
    finally:
        await rt.close()


def test_prune_deletes_the_prefix_rows_older_than_the_age_and_no_other(store: Store) -> None:
    masto, other = StoredState(store, "masto"), StoredState(store, "other")
    for key in ("media:old-1", "media:old-2", "media:young", "media_x", "mediaX", "instance"):
        masto.put(key, {"id": key})
    other.put("media:old-1", "another channel's")
    age_rows(store, "masto", timedelta(days=8), "media:old-1", "media:old-2", "media_x",
             "mediaX", "instance")
    age_rows(store, "masto", timedelta(days=6), "media:young")
    age_rows(store, "other", timedelta(days=30))

    assert masto.prune("media:", timedelta(days=7)) == 2
    assert sorted(kv_rows(store, "masto")) == ["instance", "media:young", "mediaX", "media_x"]
    assert masto.prune("media_", timedelta(days=7)) == 1  # "_" is no wildcard: mediaX stays
    assert masto.prune("media:", timedelta(days=7)) == 0
    assert sorted(kv_rows(store, "masto")) == ["instance", "media:young", "mediaX"]
    assert kv_rows(store, "other") == {"media:old-1": "another channel's"}


def test_a_key_written_again_is_young_again_for_prune(store: Store) -> None:
    state = StoredState(store, "bsky")
    for key in ("cid:a", "cid:b", "cid:c"):
        state.put(key, "old")
    age_rows(store, "bsky", timedelta(days=100))
    state.put("cid:a", "written again")
    state.update("cid:b", lambda v: v + " and updated")
    assert state.prune("cid:", timedelta(days=90)) == 1
    assert kv_rows(store, "bsky") == {"cid:a": "written again", "cid:b": "old and updated"}


def test_prune_wants_a_prefix_and_a_positive_age(store: Store) -> None:
    state = StoredState(store, "masto")
    state.put("instance", 1)
    age_rows(store, "masto", timedelta(days=400))
    for prefix, age in (("", timedelta(days=1)), ("media:", timedelta(0)),
                        ("media:", timedelta(days=-1))):
        with pytest.raises(ValueError, match="prune takes"):
            state.prune(prefix, age)
    assert kv_rows(store, "masto") == {"instance": 1}
