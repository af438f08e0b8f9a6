"""The channels' state rows in ``channel_kv`` as the retention tests look at them: rows made
older (their ``updated_at`` moved back, as the days would have), what a channel holds, and a
database that refuses to delete them (a trigger: a real failure of the store)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, text, update

from distributor.clock import utcnow
from distributor.store import Store
from distributor.store.models import ChannelKV


def age_rows(store: Store, channel: str, age: timedelta, *keys: str) -> None:
    """The rows of ``keys`` (every row of the channel when none is named) as if last written
    ``age`` ago."""
    where = ChannelKV.channel == channel
    if keys:
        where = where & ChannelKV.key.in_(keys)
    with store.session() as session:
        changed = session.execute(update(ChannelKV).where(where)
                                  .values(updated_at=utcnow() - age))
        assert not keys or getattr(changed, "rowcount", None) == len(keys), keys


def kv_rows(store: Store, channel: str) -> dict[str, Any]:
    """The channel's rows in ``channel_kv``: key -> value."""
    with store.session() as session:
        return {row.key: row.value for row in session.scalars(
            select(ChannelKV).where(ChannelKV.channel == channel))}


def refuse_deletes(store: Store) -> None:
    """From now on the database refuses every DELETE on ``channel_kv``."""
    with store.session() as session:
        if store.dialect == "postgresql":
            session.execute(text(
                "CREATE FUNCTION refuse_kv_deletes() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'deleting channel state is refused here'; END $$"))
            session.execute(text(
                "CREATE TRIGGER refuse_kv_deletes BEFORE DELETE ON channel_kv "
                "FOR EACH STATEMENT EXECUTE FUNCTION refuse_kv_deletes()"))
        else:
            session.execute(text(
                "CREATE TRIGGER refuse_kv_deletes BEFORE DELETE ON channel_kv BEGIN "
                "SELECT RAISE(ABORT, 'deleting channel state is refused here'); END"))
