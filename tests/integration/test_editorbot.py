"""The editor bot driven like Telegram drives it: updates from getUpdates (long polling through
python-telegram-bot's Application) against the fake Bot API, a real store and the real
dispatcher. Editors publish from the chat; anyone else, and any forged or old button, does
nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.telegram_api import FakeTelegram, SentMessage
from sqlalchemy import select
from support.editor_bots import editor_bots, until
from support.timeouts import ANSWERED

from distributor.articles import Article
from distributor.channels.telegram.editorbot import (
    BUTTON_TTL,
    button_secret,
    check_button,
    editor_bot_groups,
    run_editor_bots,
    sign_button,
)
from distributor.configfile import load_config
from distributor.engine.digests import plan_digest
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.deliveries import plan_deliveries
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.services.desk import ServiceDesk
from distributor.store.models import ArticleRow, Delivery

EDITOR = 111
OTHER_EDITOR = 112
STRANGER = 999
URL = "https://rinews.example/berita/rusia-indonesia"
PASTED = (
    "Kereta Cepat Tambah Jadwal\n\n"
    "RI News Portal. Bandung — Operator kereta cepat menambah enam perjalanan setiap akhir "
    "pekan mulai bulan depan karena penumpang terus bertambah.\n\n"
    "Penambahan itu diumumkan pada Senin di Stasiun Tegalluar.\n\n"
    "https://rinews.example/berita/kereta-cepat-jadwal\n")

@pytest.fixture
def rt(write_config: Callable[..., Path], tg: FakeTelegram,
       tmp_path: Path) -> Iterator[Runtime]:
    path = write_config(f"""\
        channels:
          - name: telegram
            type: telegram
            chat_id: "{tg.channel.handle}"
            token: "{tg.token}"
            api_base_url: {tg.url}
            timeout: {ANSWERED}
            reconcile_wait: 0
            editors: [{EDITOR}, {OTHER_EDITOR}]
          - name: files
            type: outbox
            path: {tmp_path / "outbox"}
          - name: daily
            type: outbox
            publish: digest
            schedule: "0 6 * * *"
            path: {tmp_path / "digests"}
        """)
    runtime = Runtime.open(load_config(path))
    yield runtime
    runtime.store.dispose()


@pytest.fixture
async def bot(rt: Runtime, tg: FakeTelegram) -> AsyncIterator[asyncio.Task[None]]:
    """The editor bots of the configuration, long-polling the fake until the test ends."""
    async with editor_bots(rt, tg) as task:
        yield task


def add_article(rt: Runtime, *, url: str = URL, first_seen: datetime | None = None) -> int:
    article = Article(source="portal", key=url, url=url, title="Rusia dan Indonesia Sepakat",
                      lede="Kedua negara menandatangani kerja sama energi di Moskow pada Senin.",
                      published=datetime.now(UTC) - timedelta(minutes=5))
    with rt.store.session() as session:
        row, _ = store_article(session, article, now=first_seen or datetime.now(UTC))
        return row.id


def summary_for(tg: FakeTelegram, user: int) -> SentMessage | None:
    """The bot's last message with buttons in the user's chat."""
    with_buttons = [m for m in tg.messages_to(user) if m.reply_markup]
    return with_buttons[-1] if with_buttons else None


def states(rt: Runtime) -> dict[str, str]:
    with rt.store.session() as session:
        return {d.channel: d.state for d in session.scalars(select(Delivery))}


def outbox_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "outbox" / "files").glob("*.json"))


# --------------------------------------------------------------------------- publishing


async def test_an_editor_publishes_an_article_by_url_to_every_channel_exactly_once(
        rt: Runtime, tg: FakeTelegram, bot: asyncio.Task[None], tmp_path: Path) -> None:
    article_id = add_article(rt)

    tg.user_says(EDITOR, URL)
    summary = await until(lambda: summary_for(tg, EDITOR))

    preview = tg.messages_to(EDITOR)[0]
    article = rt.adapter("telegram").render(
        _article(rt, article_id), rt.context(rt.config.channel("telegram")))[0]
    assert preview.text == article["text"] and preview.parse_mode == "HTML"
    assert "Rusia dan Indonesia Sepakat" in summary.plain_text
    assert "files (outbox): 1 post · not published" in summary.plain_text
    assert "daily (digest): in the next digest" in summary.plain_text
    labels = [b["text"] for b in summary.buttons()]
    assert labels == ["Publish to telegram", "Publish to files", "Publish to all",
                      "Add to the next digest", "Cancel"]
    assert tg.messages_in(tg.channel.handle) == []  # a preview publishes nothing

    publish_all = summary.button("all")["callback_data"]
    query = tg.press(EDITOR, summary, publish_all)
    await until(lambda: states(rt) == {"telegram": "sent", "files": "sent"})
    await until(lambda: "telegram: published" in summary.plain_text)
    assert tg.answers_to(query)[0]["text"] == "Publishing…"
    assert summary.reply_markup is None  # the buttons are gone once used
    [post] = tg.messages_in(tg.channel.handle)
    assert post.text == article["text"]
    assert len(outbox_files(tmp_path)) == 1

    again = tg.press(EDITOR, summary, publish_all)  # e.g. a second tap, or the old message
    await until(lambda: tg.answers_to(again))
    await until(lambda: "already published" in summary.plain_text)
    assert len(tg.messages_in(tg.channel.handle)) == 1
    assert len(outbox_files(tmp_path)) == 1
    with rt.store.session() as session:
        requested = {d.requested_by for d in session.scalars(select(Delivery))}
    assert requested == {f"telegram:{EDITOR}"}


async def test_an_editor_publishes_a_stored_article_by_id_to_one_channel(
        rt: Runtime, tg: FakeTelegram, bot: asyncio.Task[None], tmp_path: Path) -> None:
    article_id = add_article(rt)

    tg.user_says(EDITOR, str(article_id))
    summary = await until(lambda: summary_for(tg, EDITOR))
    tg.press(EDITOR, summary, summary.button("Publish to telegram")["callback_data"])

    await until(lambda: states(rt) == {"telegram": "sent"})
    await until(lambda: "telegram: published" in summary.plain_text)
    assert len(tg.messages_in(tg.channel.handle)) == 1
    assert outbox_files(tmp_path) == []


async def test_pasted_text_becomes_an_article_that_waits_for_the_editors_choice(
        rt: Runtime, tg: FakeTelegram, bot: asyncio.Task[None], tmp_path: Path) -> None:
    tg.user_says(EDITOR, PASTED)
    summary = await until(lambda: summary_for(tg, EDITOR))

    with rt.store.session() as session:
        row = session.scalars(select(ArticleRow)).one()
        assert (row.source, row.url) == ("editor", "https://rinews.example/berita/kereta-cepat"
                                                   "-jadwal")
        assert row.title == "Kereta Cepat Tambah Jadwal"
        assert row.lede.startswith("Operator kereta cepat menambah")
        assert row.dateline is not None and "Bandung" in row.dateline
        assert row.backlog is True
    assert "Nothing publishes it until you press a button" in summary.plain_text
    # a scheduled pass does not publish what the editor has not decided on
    await Dispatcher(rt).run_once()
    assert states(rt) == {} and tg.messages_in(tg.channel.handle) == []

    tg.press(EDITOR, summary, summary.button("Publish to telegram")["callback_data"])
    await until(lambda: states(rt) == {"telegram": "sent"})
    [post] = tg.messages_in(tg.channel.handle)
    assert "Kereta Cepat Tambah Jadwal" in post.plain_text
    assert plan_deliveries(rt) == 0  # still nothing for the channels the editor did not pick


async def test_pasted_text_without_a_link_asks_for_one_and_stores_nothing(
        rt: Runtime, tg: FakeTelegram, bot: asyncio.Task[None]) -> None:
    tg.user_says(EDITOR, PASTED.replace("https://rinews.example/berita/kereta-cepat-jadwal", ""))

    reply = await until(lambda: tg.messages_to(EDITOR))
    assert "Which page should the post link to?" in reply[0].plain_text
    with rt.store.session() as session:
        assert session.scalars(select(ArticleRow)).all() == []


async def test_an_unknown_url_is_explained(rt: Runtime, tg: FakeTelegram,
                                           bot: asyncio.Task[None]) -> None:
    tg.user_says(EDITOR, "https://rinews.example/berita/belum-ada")

    reply = await until(lambda: tg.messages_to(EDITOR))
    assert "I do not know the article at https://rinews.example/berita/belum-ada" in \
        reply[0].plain_text


async def test_cancel_publishes_nothing(rt: Runtime, tg: FakeTelegram,
                                        bot: asyncio.Task[None]) -> None:
    add_article(rt)
    tg.user_says(EDITOR, URL)
    summary = await until(lambda: summary_for(tg, EDITOR))

    tg.press(EDITOR, summary, summary.button("Cancel")["callback_data"])

    await until(lambda: "Cancelled: nothing was published" in summary.plain_text)
    assert states(rt) == {} and tg.messages_in(tg.channel.handle) == []


async def test_add_to_the_next_digest_puts_an_older_article_in_it(
        rt: Runtime, tg: FakeTelegram, bot: asyncio.Task[None]) -> None:
    article_id = add_article(rt, first_seen=datetime.now(UTC) - timedelta(days=3))
    digest = rt.config.channel("daily")
    assert plan_digest(rt, digest, until=datetime.now(UTC), period="x").articles == []
    tg.user_says(EDITOR, URL)
    summary = await until(lambda: summary_for(tg, EDITOR))
    assert "daily (digest): not in the next digest" in summary.plain_text

    tg.press(EDITOR, summary, summary.button("digest")["callback_data"])

    await until(lambda: "Added to the next digest of daily" in summary.plain_text)
    planned = plan_digest(rt, digest, until=datetime.now(UTC) + timedelta(seconds=1), period="x")
    assert [a.id for a in planned.articles] == [article_id]
    assert states(rt) == {}  # only the digest: no instant channel publishes it for that


# --------------------------------------------------------------------------- refusals


async def test_a_stranger_gets_a_polite_refusal_and_nothing_happens(
        rt: Runtime, tg: FakeTelegram, bot: asyncio.Task[None]) -> None:
    add_article(rt)

    tg.user_says(STRANGER, URL)
    tg.user_says(STRANGER, PASTED)
    tg.user_says(STRANGER, "/status")
    replies = await until(lambda: len(tg.messages_to(STRANGER)) == 3 and
                          tg.messages_to(STRANGER))

    for reply in replies:
        assert reply.plain_text.startswith("Sorry, this bot only works for the editors of "
                                           "RI News Portal. Nothing was published.")
        assert str(STRANGER) in reply.plain_text  # what to give the administrator
        assert reply.reply_markup is None
    with rt.store.session() as session:
        assert len(session.scalars(select(ArticleRow)).all()) == 1  # the pasted text: not stored
    assert states(rt) == {} and tg.messages_in(tg.channel.handle) == []


async def test_a_genuine_button_pressed_by_a_stranger_does_nothing(
        rt: Runtime, tg: FakeTelegram, bot: asyncio.Task[None]) -> None:
    add_article(rt)
    tg.user_says(EDITOR, URL)
    summary = await until(lambda: summary_for(tg, EDITOR))

    # the editor's message forwarded or shown to someone else, who presses "publish all"
    query = tg.press(STRANGER, summary, summary.button("all")["callback_data"])

    [answer] = await until(lambda: tg.answers_to(query))
    assert answer["show_alert"] is True
    assert "Only the newsroom's editors can use these buttons" in answer["text"]
    await asyncio.sleep(0.3)
    assert states(rt) == {} and tg.messages_in(tg.channel.handle) == []


@pytest.mark.parametrize("forge", ["tampered", "old", "other chat", "other article"])
async def test_a_forged_or_old_button_is_refused(rt: Runtime, tg: FakeTelegram,
                                                 bot: asyncio.Task[None], forge: str) -> None:
    article_id = add_article(rt)
    other_id = add_article(rt, url=URL + "-lain")
    tg.user_says(EDITOR, URL)
    summary = await until(lambda: summary_for(tg, EDITOR))
    genuine = summary.button("all")["callback_data"]
    secret = button_secret(rt.config.web, tg.token)
    now = datetime.now(UTC)
    data = {
        "tampered": genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"),
        "old": sign_button(secret, "pa", article_id, EDITOR, now - BUTTON_TTL
                           - timedelta(minutes=1)),
        "other chat": sign_button(secret, "pa", article_id, OTHER_EDITOR, now),
        "other article": genuine.replace(f".{article_id}.", f".{other_id}.", 1),
    }[forge]

    query = tg.press(EDITOR, summary, data)

    [answer] = await until(lambda: tg.answers_to(query))
    assert answer["show_alert"] is True
    assert ("older than 60 minutes" if forge == "old" else "not one of mine") in answer["text"]
    await asyncio.sleep(0.3)
    assert states(rt) == {} and tg.messages_in(tg.channel.handle) == []


def test_button_data_fits_telegrams_64_bytes_and_round_trips() -> None:
    secret = b"k" * 32
    now = datetime.now(UTC)
    data = sign_button(secret, "p12", 123456789, -1001234567890, now)

    assert len(data.encode()) <= 64
    assert check_button(secret, data, -1001234567890, now) == ("p12", 123456789)
    with pytest.raises(Exception, match="not one of mine"):
        check_button(b"x" * 32, data, -1001234567890, now)


# --------------------------------------------------------------------------- commands


def make_delivery(rt: Runtime, article_id: int, state: str, error: str | None = None) -> int:
    with rt.store.session() as session:
        delivery = Delivery(article_id=article_id, channel="telegram", state=state, attempts=1,
                            last_error=error, messages=None)
        session.add(delivery)
        session.flush()
        return delivery.id


async def test_status_lists_recent_deliveries_and_those_needing_a_decision(
        rt: Runtime, tg: FakeTelegram, bot: asyncio.Task[None]) -> None:
    first = add_article(rt)
    second = add_article(rt, url=URL + "-2")
    unknown = make_delivery(rt, first, "unknown", "no answer from Telegram within 2 s")
    with rt.store.session() as session:
        failed = Delivery(article_id=second, channel="files", state="failed",
                          last_error="cannot write to the outbox")
        session.add(failed)
        session.flush()
        failed_id = failed.id

    tg.user_says(EDITOR, "/status")

    [reply] = await until(lambda: tg.messages_to(EDITOR))
    text = reply.plain_text
    assert text.startswith("Last deliveries")
    assert f"#{unknown} telegram · unknown" in text
    assert f"/retry {unknown} force or /resolve {unknown} sent" in text
    assert f"#{failed_id} files · failed" in text and f"/retry {failed_id}" in text
    assert "cannot write to the outbox" in text


async def test_retry_sends_a_failed_delivery_and_refuses_an_unknown_one_without_force(
        rt: Runtime, tg: FakeTelegram, bot: asyncio.Task[None]) -> None:
    failed = make_delivery(rt, add_article(rt), "failed", "Telegram refused the message")
    unknown = make_delivery(rt, add_article(rt, url=URL + "-2"), "unknown", "no answer")

    tg.user_says(EDITOR, f"/retry {failed}")
    [reply] = await until(lambda: tg.messages_to(EDITOR))
    assert reply.plain_text.startswith("telegram: published")
    assert len(tg.messages_in(tg.channel.handle)) == 1

    tg.user_says(EDITOR, f"/retry {unknown}")
    second = await until(lambda: len(tg.messages_to(EDITOR)) == 2 and tg.messages_to(EDITOR)[1])
    assert "may already have been published" in second.plain_text
    assert f"/retry {unknown} force" in second.plain_text
    assert len(tg.messages_in(tg.channel.handle)) == 1

    tg.user_says(EDITOR, f"/resolve {unknown} sent")
    third = await until(lambda: len(tg.messages_to(EDITOR)) == 3 and tg.messages_to(EDITOR)[2])
    assert third.plain_text == f"delivery {unknown} is now sent"


# --------------------------------------------------------------------------- configuration


def test_only_telegram_channels_with_editors_run_a_bot(
        write_config: Callable[..., Path], tg: FakeTelegram) -> None:
    path = write_config(f"""\
        channels:
          - name: telegram
            type: telegram
            chat_id: "@rinewsportal"
            token: "{tg.token}"
            editors: [1, 2]
          - name: telegram-en
            type: telegram
            chat_id: "@rinewsportal_en"
            token: "{tg.token}"
            editors: [3]
          - name: quiet
            type: telegram
            chat_id: "@other"
            token: "7099999999:AAotherotherotherotherotherother01"
        """)
    rt = Runtime.open(load_config(path))
    try:
        [group] = editor_bot_groups(rt.channels())
    finally:
        rt.store.dispose()

    assert group.names == ["telegram", "telegram-en"]
    assert group.editors == {1, 2, 3}


async def test_no_bot_runs_without_editors_and_stop_ends_it(
        write_config: Callable[..., Path], tg: FakeTelegram) -> None:
    path = write_config(f"""\
        channels:
          - name: telegram
            type: telegram
            chat_id: "@rinewsportal"
            token: "{tg.token}"
            api_base_url: {tg.url}
        """)
    rt = Runtime.open(load_config(path))
    stop = asyncio.Event()
    task = asyncio.create_task(run_editor_bots(ServiceDesk(rt), stop, poll_timeout=0.5))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 2)
    await rt.close()

    assert tg.calls == []


def _article(rt: Runtime, article_id: int) -> Article:
    from distributor.ledger.ingest import from_row

    with rt.store.session() as session:
        return from_row(session.get_one(ArticleRow, article_id))

