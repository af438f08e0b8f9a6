"""The channels' state kept in ``channel_state`` before the plugin API (a Telegram chat's move
in ``moved_to``, a bot token's shared request slot in a ``token:<key>`` row) is moved by
migration 0008 into ``channel_kv``, where the channel reads it through its StateStore: on a
real SQLite file and on the real PostgreSQL, each migrated from empty."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram_api import FakeChat, FakeTelegram
from sqlalchemy import inspect, text
from support.timeouts import ANSWERED

from distributor.articles import Article
from distributor.channels.telegram.moves import MOVED_TO
from distributor.channels.telegram.pacing import NEXT_SLOT, reserve_slot, token_scope
from distributor.channels.telegram.tokens import credential_key
from distributor.configfile import load_config
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.channel_state import StoredState, shared_state
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.store.db import MIGRATIONS, make_engine

GROUP, SUPERGROUP = -4123456789, -1009876543210


def alembic() -> tuple[Any, Any]:
    """alembic's ``command`` module and a configuration of the store's migrations (imported
    here, not when pytest -n's workers collect this file)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return command, cfg


def migrate(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        command, cfg = alembic()
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def execute(url: str, sql: str, **params: object) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql), params)
    finally:
        engine.dispose()


async def test_old_channel_state_rows_are_read_by_the_channel_after_the_upgrade(
        empty_db_url: str, tg: FakeTelegram, write_config: Callable[..., Path]) -> None:
    group = FakeChat(id=GROUP, title="RI News desk", type="group")
    tg.chats.append(group)
    supergroup = tg.migrate(SUPERGROUP, chat=group)
    key = credential_key(tg.token, tg.url)
    slot = datetime.now(UTC) + timedelta(hours=1)
    held = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)

    # a database of the release before: Telegram moved the chat, the token had a shared slot
    migrate(empty_db_url, "0007")
    insert = ("INSERT INTO channel_state (channel, next_send_at, paused_reason, moved_to) "
              "VALUES (:channel, :at, :reason, :moved)")
    execute(empty_db_url, insert, channel="telegram", at=held, reason=None, moved=str(SUPERGROUP))
    execute(empty_db_url, insert, channel=f"token:{key}", at=slot, reason=None, moved=None)
    execute(empty_db_url, insert, channel="x", at=held, reason="bad credentials", moved=None)

    config = write_config(f"""\
        channels:
          - name: telegram
            type: telegram
            chat_id: "{GROUP}"
            token: "{tg.token}"
            api_base_url: {tg.url}
            timeout: {ANSWERED}
        """, database=empty_db_url)
    rt = Runtime.open(load_config(config))  # the new release upgrades the store at start
    try:
        assert StoredState(rt.store, "telegram").get(MOVED_TO) == str(SUPERGROUP)
        scope = shared_state(rt.store, token_scope(key))
        assert scope.get(NEXT_SLOT) == pytest.approx(slot.timestamp())
        # the next request slot every worker takes follows the migrated one
        assert reserve_slot(scope, gap=0.5, now=time.time()) == pytest.approx(slot.timestamp())

        # the channel posts straight to the chat Telegram moved it to: the old one is not asked
        with rt.store.session() as session:
            store_article(session, Article(
                source="test", key="a1", url="https://rinews.example/berita/1",
                title="Banjir di Semarang", lede="Hujan deras merendam kota.",
                published=datetime.now(UTC)), now=datetime.now(UTC))
        await Dispatcher(rt).run_once()
        assert [m.plain_text.split("\n")[0] for m in tg.messages_in(supergroup.id)] == [
            "Banjir di Semarang"]
        assert [c.params["chat_id"] for c in tg.calls_to("sendMessage")] == [str(SUPERGROUP)]
        assert rt.adapter("telegram").post_url("7") == "https://t.me/c/9876543210/7"

        # the old rows are gone; what channel_state still owns (pacing, pauses) is kept
        with rt.store.engine.connect() as connection:
            assert "moved_to" not in {c["name"] for c in
                                      inspect(connection).get_columns("channel_state")}
            rows = connection.execute(text(
                "SELECT channel, paused_reason FROM channel_state ORDER BY channel")).all()
        assert [tuple(r) for r in rows] == [("telegram", None), ("x", "bad credentials")]
    finally:
        rt.store.dispose()


def test_a_value_the_channel_already_wrote_wins_and_the_downgrade_gives_the_rows_back(
        empty_db_url: str) -> None:
    migrate(empty_db_url, "0007")
    execute(empty_db_url, "INSERT INTO channel_state (channel, moved_to) VALUES ('tg', '-1001')")
    execute(empty_db_url, "INSERT INTO channel_kv (channel, key, value, updated_at) VALUES "
            "('tg', 'moved_to', '\"-1002\"', :now)", now=datetime.now(UTC))
    migrate(empty_db_url, "head")

    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            values = connection.execute(text(
                "SELECT channel, key FROM channel_kv ORDER BY channel, key")).all()
        assert [tuple(v) for v in values] == [("tg", "moved_to")]
    finally:
        engine.dispose()

    command, cfg = alembic()
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0007")
        with engine.connect() as connection:
            moved = connection.execute(text(
                "SELECT moved_to FROM channel_state WHERE channel = 'tg'")).scalar_one()
        assert moved == "-1002"
    finally:
        engine.dispose()
