"""The core's side of ``ctx.state`` and ``env.shared_state(scope)`` (the plugin API's
:class:`StateStore`): each channel's key-value state in the ``channel_kv`` table, so no channel
touches the ledger's tables. A store shared by the channels that name one scope is kept in the
same table, under the reserved name ``shared:<scope>`` in its ``channel`` column.

It sits in the store layer, below the runtime, which hands every channel its state at start
(:meth:`distributor.runtime.Runtime.open`).

:meth:`StoredState.update` is atomic on both stores: the row is read ``FOR UPDATE``
(PostgreSQL's row lock; created first if missing, by an insert that ignores a conflict, which
on SQLite also takes the write lock before the read), changed and written in the same
transaction, so two workers updating one key never lose an update.

:meth:`StoredState.prune` is one ``DELETE`` of the channel's rows whose key starts with the
prefix (a ``LIKE`` with ``_`` and ``%`` escaped) and whose ``updated_at`` (set by every
``put`` and ``update``) is older than the age given, on either store.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from distributor.clock import utcnow
from distributor.plugin import StateStore
from distributor.plugin.state import as_json, check_key, check_prune
from distributor.store.db import Store
from distributor.store.models import ChannelKV

#: the ``channel`` of a shared scope's rows (no channel is named so)
SHARED_PREFIX = "shared:"


class StoredState(StateStore):
    """One channel's state in the store (or, through :func:`shared_state`, one shared
    scope's)."""

    def __init__(self, store: Store, channel: str):
        self.store = store
        self.channel = channel

    def _where(self, key: str) -> Any:
        return (ChannelKV.channel == self.channel) & (ChannelKV.key == check_key(key))

    def get(self, key: str, default: Any = None) -> Any:
        with self.store.session() as session:
            row = session.scalar(select(ChannelKV).where(self._where(key)))
            return copy.deepcopy(row.value) if row is not None else default

    def put(self, key: str, value: Any) -> None:
        value = as_json(value)
        with self.store.session() as session:
            self._ensure(session, key, value)
            row = session.scalar(select(ChannelKV).where(self._where(key)).with_for_update())
            assert row is not None
            row.value, row.updated_at = value, utcnow()

    def delete(self, key: str) -> bool:
        with self.store.session() as session:
            result = session.execute(delete(ChannelKV).where(self._where(key)))
            return bool(getattr(result, "rowcount", 0))

    def update(self, key: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
        default = as_json(default)
        with self.store.session() as session:
            row = None
            if self.store.dialect == "postgresql":  # the row is there most times: lock it
                row = session.scalar(select(ChannelKV).where(self._where(key)).with_for_update())
            if row is None:  # (SQLite: the insert takes the write lock before the read)
                self._ensure(session, key, default)  # a new row holds the default
                row = session.scalar(select(ChannelKV).where(self._where(key)).with_for_update())
            assert row is not None
            current = copy.deepcopy(row.value)
            new = as_json(fn(current))
            row.value, row.updated_at = new, utcnow()
            return copy.deepcopy(new)

    def keys(self, prefix: str = "") -> list[str]:
        with self.store.session() as session:
            query = select(ChannelKV.key).where(ChannelKV.channel == self.channel)
            if prefix:
                query = query.where(ChannelKV.key.startswith(prefix, autoescape=True))
            return sorted(session.scalars(query))

    def prune(self, prefix: str, older_than: timedelta) -> int:
        prefix, older_than = check_prune(prefix, older_than)
        statement = delete(ChannelKV).where(
            ChannelKV.channel == self.channel,
            ChannelKV.key.startswith(prefix, autoescape=True),
            ChannelKV.updated_at < utcnow() - older_than,
        ).execution_options(synchronize_session=False)
        with self.store.session() as session:
            return int(getattr(session.execute(statement), "rowcount", 0) or 0)

    def _ensure(self, session: Any, key: str, value: Any) -> None:
        """Create the row with ``value`` if it is missing."""
        dialect = self.store.dialect
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(ChannelKV).values(
            channel=self.channel, key=check_key(key), value=value, updated_at=utcnow(),
        ).on_conflict_do_nothing(index_elements=["channel", "key"])
        session.execute(statement)


def shared_state(store: Store, scope: str) -> StoredState:
    """The store shared by the channels that name ``scope``."""
    return StoredState(store, SHARED_PREFIX + check_key(scope))
