"""`/retract` and `/correct` in the editor bot (issue 16), driven like Telegram drives it
(getUpdates long polling against the fake Bot API), through the Desk, a real store and the real
dispatcher: the channel post is deleted once, the editor is told so, and nobody else can."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.telegram_api import FakeTelegram
from sqlalchemy import select
from support.editor_bots import editor_bots, until
from support.timeouts import ANSWERED

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.services import deliveries as services
from distributor.store.models import DeliveryAction

EDITOR = 111
STRANGER = 999
URL = "https://rinews.example/berita/vaksin"


@pytest.fixture
def rt(write_config: Callable[..., Path], tg: FakeTelegram) -> Iterator[Runtime]:
    path = write_config(f"""\
        channels:
          - name: telegram
            type: telegram
            publish: manual
            chat_id: "{tg.channel.handle}"
            token: "{tg.token}"
            api_base_url: {tg.url}
            timeout: {ANSWERED}
            reconcile_wait: 0
            editors: [{EDITOR}]
        """)
    runtime = Runtime.open(load_config(path))
    yield runtime
    runtime.store.dispose()


@pytest.fixture
async def bot(rt: Runtime, tg: FakeTelegram) -> AsyncIterator[asyncio.Task[None]]:
    """The editor bots of the configuration, long-polling the fake until the test ends."""
    async with editor_bots(rt, tg) as task:
        yield task


async def published(rt: Runtime, tg: FakeTelegram) -> int:
    article = Article(source="portal", key=URL, url=URL, title="Kabar keliru soal vaksin",
                      lede="Sebuah kabar beredar di media sosial pada Senin.",
                      published=datetime.now(UTC) - timedelta(minutes=5))
    with rt.store.session() as session:
        article_id = store_article(session, article, now=datetime.now(UTC))[0].id
    [outcome] = await services.push(rt, article_id, ["telegram"], by="test")
    assert outcome.delivery.state == "sent" and len(tg.messages_in(tg.channel.id)) == 1
    return article_id


def replies_to(tg: FakeTelegram, user: int, after: int) -> list[str]:
    return [m.plain_text for m in tg.messages_to(user)][after:]


async def test_an_editor_retracts_an_article_from_the_chat_once(
        rt: Runtime, tg: FakeTelegram, bot: asyncio.Task[None]) -> None:
    article_id = await published(rt, tg)

    tg.user_says(EDITOR, f"/retract {article_id} Sumber tidak dapat dipercaya")
    [reply] = await until(lambda: replies_to(tg, EDITOR, 0))

    assert reply == "telegram: retracted (deleted)"
    assert tg.messages_in(tg.channel.id) == [] and len(tg.deleted) == 1
    with rt.store.session() as session:
        row = session.scalars(select(DeliveryAction)).one()
        assert (row.state, row.requested_by, row.reason) == (
            "sent", f"telegram:{EDITOR}", "Sumber tidak dapat dipercaya")

    tg.user_says(EDITOR, f"/retract {URL} Sumber tidak dapat dipercaya")
    [again] = await until(lambda: replies_to(tg, EDITOR, 1))
    assert again == "telegram: already retracted; nothing changed"
    assert len(tg.calls_to("deleteMessage")) == 1


async def test_a_retract_without_a_reason_asks_for_one_and_a_stranger_cannot_retract(
        rt: Runtime, tg: FakeTelegram, bot: asyncio.Task[None]) -> None:
    article_id = await published(rt, tg)

    tg.user_says(EDITOR, f"/retract {article_id}")
    [asked] = await until(lambda: replies_to(tg, EDITOR, 0))
    tg.user_says(STRANGER, f"/retract {article_id} karena saya mau")
    await until(lambda: replies_to(tg, STRANGER, 0))

    assert "REASON" in asked
    assert len(tg.messages_in(tg.channel.id)) == 1 and tg.calls_to("deleteMessage") == []
