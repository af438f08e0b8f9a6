"""Telegram through the real dispatcher and a real store (SQLite), against the fake Bot API:
flood control keeps order and never drops a post, pacing per token, each refusal with its own
outcome, quiet hours."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram_api import FakeChat, FakeTelegram
from sqlalchemy import select, update
from support.timeouts import ANSWERED, LATE, SILENT
from telegram.request import HTTPXRequest

import distributor.engine.dispatcher as delivery_module
from distributor.articles import Article
from distributor.channels.telegram.adapter import (
    TOKEN_RATE,
    TelegramAdapter,
    TelegramConfig,
    credential_key,
    forget_token_state,
    token_state,
)
from distributor.channels.telegram.moves import MOVED_TO
from distributor.config import ConfigErrors, SiteConfig
from distributor.configfile import load_config
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.channel_state import StoredState
from distributor.ledger.deliveries import request_delivery
from distributor.ledger.ingest import store_article
from distributor.plugin import PermanentError
from distributor.plugin.testing import send_context
from distributor.runtime import Runtime
from distributor.store.models import ChannelState, Delivery

WRONG_TOKEN = "7012345678:AAwrongwrongwrongwrongwrongwrong01"
JAKARTA = SiteConfig(name="RI News Portal", url="https://rinews.example",
                     timezone="Asia/Jakarta")


@pytest.fixture
def fast_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Posts of a channel may follow each other quickly (the dispatcher's 20 a minute, 3 s
    apart, is tested with the dispatcher): only what a test is about makes anything wait."""
    monkeypatch.setattr(TelegramAdapter, "rate_per_minute", 1200)


@pytest.fixture
def make_rt(write_config: Callable[..., Path]) -> Iterator[Callable[[str], Runtime]]:
    opened: list[Runtime] = []

    def make(channels: str) -> Runtime:
        rt = Runtime.open(load_config(write_config("channels:\n" + channels)))
        opened.append(rt)
        return rt

    yield make
    for rt in opened:
        rt.store.dispose()


def telegram_channel(tg: FakeTelegram, name: str = "telegram", *, chat: str | None = None,
                     token: str | None = None, timeout: float = ANSWERED, **extra: Any) -> str:
    lines = [f"  - name: {name}", "    type: telegram",
             f'    chat_id: "{chat or tg.channel.handle}"', f'    token: "{token or tg.token}"',
             f"    api_base_url: {tg.url}", f"    timeout: {timeout}", "    reconcile_wait: 0"]
    lines += [f"    {key}: {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def add_articles(rt: Runtime, n: int, *, prefix: str = "Berita") -> list[int]:
    now = datetime.now(UTC)
    ids = []
    with rt.store.session() as session:
        for i in range(n):
            article = Article(source="test", key=f"{prefix}{i}",
                              url=f"https://rinews.example/{prefix.lower()}/{i}",
                              title=f"{prefix} {i}", lede=f"Lede {prefix.lower()} nomor {i}.",
                              published=now - timedelta(minutes=n - i))
            row, _ = store_article(session, article, now=now)
            ids.append(row.id)
    return ids


def deliveries(rt: Runtime, channel: str = "telegram") -> list[Delivery]:
    with rt.store.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.channel == channel)
                               .order_by(Delivery.article_id)).all()
        session.expunge_all()
        return list(rows)


def hold_until(rt: Runtime, when: datetime) -> None:
    """Let time pass in the ledger: every waiting delivery and channel is due at ``when``."""
    with rt.store.session() as session:
        session.execute(update(Delivery).where(Delivery.state.in_(("pending", "retry")))
                        .values(next_attempt_at=when))
        session.execute(update(ChannelState).values(next_send_at=when))


def make_due(rt: Runtime) -> None:
    """A restart after the waits ended: the ledger's holds are over, and so are the adapter's
    in-process flood holds (they live in this process)."""
    hold_until(rt, datetime.now(UTC) - timedelta(seconds=1))
    forget_token_state()


def posts(tg: FakeTelegram, chat: FakeChat | None = None) -> list[str]:
    return [m.plain_text.split("\n")[0] for m in tg.messages_in((chat or tg.channel).id)]


# --------------------------------------------------------------------------- flood control


async def test_six_articles_through_a_flood_error_arrive_once_each_in_order_after_the_wait(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram,
        monkeypatch: pytest.MonkeyPatch, fast_pacing: None) -> None:
    # a pass returns instead of sleeping through the dispatcher's backoff (>= retry_after)
    monkeypatch.setattr(delivery_module, "PACING_WAIT_MAX", 0.5)
    rt = make_rt(telegram_channel(tg))
    add_articles(rt, 6)
    retry_after = 2
    await rt.adapter("telegram").check_online()  # the bot is ready: the first call is a post
    original = tg._dispatch
    sends = 0

    def second_is_flooded(method: str, params: dict[str, Any], bot: Any = None) -> Any:
        nonlocal sends
        if method == "sendMessage":
            sends += 1
            if sends == 2:
                return 429, {"ok": False, "error_code": 429, "parameters": {
                    "retry_after": retry_after},
                    "description": f"Too Many Requests: retry after {retry_after}"}
        return original(method, params, bot)

    tg._dispatch = second_is_flooded  # type: ignore[method-assign]

    await Dispatcher(rt).run_once()

    [flooded] = [c for c in tg.calls_to("sendMessage") if c.status == 429]
    assert posts(tg) == ["Berita 0"]
    with rt.store.session() as session:
        held = session.get_one(ChannelState, "telegram").next_send_at
    assert held is not None and held.timestamp() >= flooded.at + retry_after - 0.01
    assert [d.state for d in deliveries(rt)] == ["sent", "retry", "pending", "pending",
                                                 "pending", "pending"]
    # the dispatcher's own backoff would wait longer; let the ledger wait exactly retry_after
    hold_until(rt, datetime.fromtimestamp(flooded.at + retry_after, UTC))
    while any(d.state != "sent" for d in deliveries(rt)):
        await Dispatcher(rt).run_once()

    assert posts(tg) == [f"Berita {i}" for i in range(6)]  # each once, in order
    later = [c for c in tg.calls_to("sendMessage") if c.at > flooded.at]
    assert len(later) == 5
    assert min(c.at for c in later) >= flooded.at + retry_after  # nothing inside the window
    assert all(d.attempts <= 1 for d in deliveries(rt))

    with rt.store.session() as session:  # a second push of an article sends nothing
        delivery, what = request_delivery(session, deliveries(rt)[3].article_id, "telegram")
    assert what == "already-sent"
    await Dispatcher(rt).run_once(only=[delivery.id])
    assert len(tg.messages) == 6


async def test_no_request_reaches_a_flooded_chat_before_retry_after_ends(
        tg: FakeTelegram) -> None:
    adapter = TelegramAdapter(TelegramConfig(name="telegram", chat_id=tg.channel.handle,
                                             token=tg.token, api_base_url=tg.url, timeout=ANSWERED))
    tg.rate_limit(retry_after=1)
    try:
        with pytest.raises(Exception, match="retry in 1 s"):
            await adapter.send({"method": "sendMessage", "text": "satu"}, send_context())
        flooded = tg.calls_to("sendMessage")[-1].at
        with pytest.raises(Exception, match="left to wait") as early:
            # e.g. another pass
            await adapter.send({"method": "sendMessage", "text": "satu"}, send_context())
        assert 0 < early.value.retry_after <= 1  # type: ignore[attr-defined]
        assert len(tg.calls_to("sendMessage")) == 1

        await asyncio.sleep(early.value.retry_after)  # type: ignore[attr-defined]
        await adapter.send({"method": "sendMessage", "text": "satu"}, send_context())
    finally:
        await adapter.close()

    assert [m.text for m in tg.messages] == ["satu"]
    assert tg.calls_to("sendMessage")[-1].at >= flooded + 1


async def test_ten_flood_errors_in_a_row_never_drop_the_post(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram, fast_pacing: None) -> None:
    rt = make_rt(telegram_channel(tg))
    add_articles(rt, 2)
    tg.rate_limit(retry_after=120, times=10)  # (longer than a pass waits: each pass returns)

    for _ in range(10):
        await Dispatcher(rt).run_once()
        first, second = deliveries(rt)
        assert (first.state, second.state) == ("retry", "pending")  # held, in order
        assert first.attempts == 0  # flood control uses up no attempt
        assert first.next_attempt_at >= datetime.now(UTC) + timedelta(seconds=115)
        make_due(rt)
    await Dispatcher(rt).run_once()

    assert len([c for c in tg.calls_to("sendMessage") if c.status == 429]) == 10
    assert posts(tg) == ["Berita 0", "Berita 1"]
    assert [d.state for d in deliveries(rt)] == ["sent", "sent"]


async def test_a_channel_posts_at_most_20_a_minute_also_across_a_restart(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram) -> None:
    assert TelegramAdapter.rate_per_minute == 20  # Telegram's limit for one channel
    channel = telegram_channel(tg)
    rt = make_rt(channel)
    add_articles(rt, 1)
    await Dispatcher(rt).run_once()
    forget_token_state()  # a new process: nothing remembered but the ledger

    rt = make_rt(channel)
    add_articles(rt, 1, prefix="Lagi")
    await Dispatcher(rt).run_once()

    assert posts(tg) == ["Berita 0", "Lagi 0"]
    first, second = (c.at for c in tg.calls_to("sendMessage"))
    assert second - first >= 60 / 20 - 0.05  # 3 s apart, although the second process was idle


async def test_posts_on_one_token_stay_within_30_a_second_across_channels(
        tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    second_chat = FakeChat(id=-1002222222222, title="RI News English", username="rinews_en")
    tg.chats.append(second_chat)
    adapters = [TelegramAdapter(TelegramConfig(name=name, chat_id=chat.handle, token=tg.token,
                                               api_base_url=tg.url, timeout=5))
                for name, chat in (("telegram", tg.channel), ("telegram-en", second_chat))]
    for adapter in adapters:
        await adapter.check_online()
    # when each request leaves for the wire (the fake's own clock also counts the time its
    # threads take to read a request, which on a busy machine bunches requests up)
    sent: list[float] = []
    leave = HTTPXRequest.do_request

    async def timed(self: HTTPXRequest, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.endswith("/sendMessage"):
            sent.append(time.monotonic())
        return await leave(self, url, *args, **kwargs)

    monkeypatch.setattr(HTTPXRequest, "do_request", timed)
    count = TOKEN_RATE + 15
    try:
        await asyncio.gather(*(adapters[i % 2].send({"method": "sendMessage", "text": f"m{i}"},
                                                    send_context())
                               for i in range(count)))
    finally:
        for adapter in adapters:
            await adapter.close()

    assert len(sent) == count == len(tg.messages)
    busiest = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
    assert busiest <= TOKEN_RATE
    arrived = sorted(c.at for c in tg.calls_to("sendMessage"))
    assert arrived[-1] - arrived[0] >= 1.0  # the rest waited for the next second


async def test_a_different_token_is_not_slowed_by_a_busy_one(tg: FakeTelegram) -> None:
    other_token = "7087654321:AAotherotherotherotherother01"
    busy = token_state(credential_key(tg.token, tg.url)).pacing
    other = token_state(credential_key(other_token, tg.url)).pacing
    busy.gap = 3600.0  # the busy token's next slot is an hour away once it has sent
    await busy.wait()
    assert not busy.limiter().has_capacity()

    assert other is not busy and other is token_state(
        credential_key(other_token, tg.url + "/")).pacing
    assert other.limiter().has_capacity()
    await other.wait()


# --------------------------------------------------------------------------- refusals


async def test_a_bad_request_fails_with_telegrams_exact_description_and_is_logged_as_a_bug(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram,
        caplog: pytest.LogCaptureFixture) -> None:
    rt = make_rt(telegram_channel(tg))
    add_articles(rt, 1)
    description = 'Bad Request: can\'t parse entities: Unsupported start tag "p" at byte offset 0'
    tg.bad_request(description)

    with caplog.at_level(logging.ERROR):
        await Dispatcher(rt).run_once()

    [delivery] = deliveries(rt)
    assert delivery.state == "failed"
    assert delivery.last_error == f"Telegram refused the message: {description}"
    assert any("rendering bug" in r.getMessage() and description in r.getMessage()
               for r in caplog.records)
    make_due(rt)
    await Dispatcher(rt).run_once()
    assert tg.messages == []  # a permanent failure is not tried again by itself


async def test_forbidden_fails_with_a_hint_how_to_fix_it(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram) -> None:
    rt = make_rt(telegram_channel(tg))
    add_articles(rt, 1)
    tg.channel.bot_status = "kicked"

    await Dispatcher(rt).run_once()

    [delivery] = deliveries(rt)
    assert delivery.state == "failed"
    assert "Forbidden: bot was kicked from the channel chat" in (delivery.last_error or "")
    assert "Add the bot as an administrator of the channel" in (delivery.last_error or "")


async def test_an_invalid_token_pauses_every_channel_on_it_with_one_message(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram, fast_pacing: None) -> None:
    english = FakeChat(id=-1002222222222, title="RI News English", username="rinews_en")
    tg.chats.append(english)
    rt = make_rt(telegram_channel(tg, token=WRONG_TOKEN)
                 + telegram_channel(tg, "telegram-en", chat=english.handle, token=WRONG_TOKEN)
                 + telegram_channel(tg, "good", chat=english.handle))
    add_articles(rt, 2)

    await Dispatcher(rt).run_once()

    with rt.store.session() as session:
        reasons = {name: session.get_one(ChannelState, name).paused_reason
                   for name in ("telegram", "telegram-en")}
        assert session.get(ChannelState, "good") is None or \
            session.get_one(ChannelState, "good").paused_reason is None
    for reason in (reasons["telegram"] or "", reasons["telegram-en"] or ""):
        assert reason.startswith("Telegram refused the bot token of channels telegram and "
                                 "telegram-en with 401 Unauthorized: check their `token:` in ")
        assert reason.endswith(", or the ${...} variables they name, against the token "
                               "@BotFather gave the bot")
        assert WRONG_TOKEN not in reason
    # the articles wait for the fix; the channel with a good token published them
    assert {d.state for d in deliveries(rt)} <= {"retry", "pending"}
    assert {d.state for d in deliveries(rt, "telegram-en")} <= {"retry", "pending"}
    assert len(tg.messages_in(english.id)) == 2
    assert all(c.token_ok for c in tg.calls_to("sendMessage"))

    # a channel on the same token learns it without asking Telegram again
    calls = len(tg.calls)
    late = TelegramAdapter(TelegramConfig(name="late", chat_id=english.handle,
                                          token=WRONG_TOKEN, api_base_url=tg.url))
    with pytest.raises(PermanentError) as caught:
        await late.send({"method": "sendMessage", "text": "x"}, send_context())
    assert caught.value.pause_channel is True
    assert caught.value.message.startswith("Telegram refused the bot token")
    assert len(tg.calls) == calls


async def test_an_invalid_token_pauses_a_channel_on_the_same_token_that_sent_nothing(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram, fast_pacing: None) -> None:
    english = FakeChat(id=-1002222222222, title="RI News English", username="rinews_en")
    tg.chats.append(english)
    rt = make_rt(telegram_channel(tg, token=WRONG_TOKEN)
                 + telegram_channel(tg, "telegram-en", chat=english.handle, token=WRONG_TOKEN,
                                    publish="manual")
                 + telegram_channel(tg, "good", chat=english.handle, publish="manual"))
    keys = {name: rt.adapter(name).credential_key for name in ("telegram", "telegram-en", "good")}
    assert keys["telegram"] == keys["telegram-en"] != keys["good"]
    assert all(k and len(k) == 16 and k not in WRONG_TOKEN for k in keys.values())
    [article] = add_articles(rt, 1)

    await Dispatcher(rt).run_once()  # only "telegram" has something to send

    assert [c.method for c in tg.calls] == ["getMe"]  # one answer: the token is invalid
    with rt.store.session() as session:
        paused = {s.channel: s.paused_reason for s in session.scalars(select(ChannelState))}
    assert set(paused) >= {"telegram", "telegram-en"}
    assert (paused["telegram-en"] or "").startswith("Telegram refused the bot token")
    assert not paused.get("good")
    # an editor's push to the other channel waits for the fix: not one request for it
    with rt.store.session() as session:
        pushed, _ = request_delivery(session, article, "telegram-en")
    await Dispatcher(rt).run_once(only=[pushed.id])
    assert [c.method for c in tg.calls] == ["getMe"]
    assert [d.state for d in deliveries(rt, "telegram-en")] == ["pending"]


def test_check_online_shows_the_invalid_token(
        write_config: Callable[..., Path], tg: FakeTelegram,
        run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    path = write_config("channels:\n" + telegram_channel(tg, token=WRONG_TOKEN))

    result = run_cli("--config", path, "check", "--online")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error: channel telegram: Telegram refused the bot token of channel telegram with " \
        f"401 Unauthorized: check its `token:` in {path}, or the ${{...}} variable it " \
        "names, against the token @BotFather gave the bot" in result.stderr
    assert "TELEGRAM_BOT_TOKEN" not in result.stderr  # not the variable this file names
    assert len([line for line in result.stderr.splitlines()
                if "refused the bot token" in line]) == 1
    assert WRONG_TOKEN not in result.stderr + result.stdout


async def test_a_migrated_chat_is_followed_recorded_and_used_straight_after_a_restart(
        make_rt: Callable[[str], Runtime], write_config: Callable[..., Path], tg: FakeTelegram,
        run_cli: Callable[..., subprocess.CompletedProcess[str]],
        caplog: pytest.LogCaptureFixture, fast_pacing: None) -> None:
    group = FakeChat(id=-4123456789, title="RI News desk", type="group")
    tg.chats.append(group)
    channel = telegram_channel(tg, chat=str(group.id))
    rt = make_rt(channel)
    add_articles(rt, 2)
    supergroup = tg.migrate(-1009876543210, chat=group)

    with caplog.at_level(logging.WARNING):
        await Dispatcher(rt).run_once()

    assert [d.state for d in deliveries(rt)] == ["sent", "sent"]
    assert posts(tg, supergroup) == ["Berita 0", "Berita 1"]  # each once, in the new chat
    assert [c.params["chat_id"] for c in tg.calls_to("sendMessage")] == [
        str(group.id), str(supergroup.id), str(supergroup.id)]
    [line] = [r.getMessage() for r in caplog.records if "moved chat" in r.getMessage()]
    assert line == (
        "channel telegram: Telegram moved chat -4123456789 to -1009876543210 (a group became a "
        f'supergroup); posting there from now on. Update {rt.config.path}: chat_id: '
        '"-1009876543210" for channel telegram')  # the file it was read from
    assert StoredState(rt.store, "telegram").get(MOVED_TO) == "-1009876543210"  # env.state

    # a restart: another process on the same database and configuration
    [article] = add_articles(rt, 1, prefix="Lagi")
    calls = len(tg.calls)
    site = write_config("channels:\n" + channel, name="site.yaml")
    result = run_cli("--config", site, "push", str(article), "--channel", "telegram")

    assert result.returncode == 0, result.stderr
    assert f'Update {site}: chat_id: "-1009876543210" for channel telegram' in result.stderr
    assert [c.params["chat_id"] for c in tg.calls[calls:] if c.method == "sendMessage"] == [
        str(supergroup.id)]  # straight to the new chat: the old one is not asked again
    assert posts(tg, supergroup) == ["Berita 0", "Berita 1", "Lagi 0"]
    # and the dashboard of a process that never posted links the posts in the new chat
    assert make_rt(channel).adapter("telegram").post_url("7") == "https://t.me/c/9876543210/7"


async def test_a_recorded_move_is_dropped_once_chat_id_is_updated_or_changed(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram, fast_pacing: None) -> None:
    group = FakeChat(id=-4123456789, title="RI News desk", type="group")
    tg.chats.append(group)
    supergroup = tg.migrate(-1009876543210, chat=group)
    rt = make_rt(telegram_channel(tg, chat=str(group.id)))
    add_articles(rt, 1)
    await Dispatcher(rt).run_once()
    forget_token_state()

    # the engineer wrote the new id into channels.yaml: the record is no longer needed
    rt = make_rt(telegram_channel(tg, chat=str(supergroup.id)))
    add_articles(rt, 1, prefix="Baru")
    await Dispatcher(rt).run_once()
    assert StoredState(rt.store, "telegram").keys() == []
    assert posts(tg, supergroup) == ["Berita 0", "Baru 0"]

    # a record never redirects a channel whose chat_id names a chat Telegram cannot move
    StoredState(rt.store, "telegram").put(MOVED_TO, "-1009876543210")
    forget_token_state()
    rt = make_rt(telegram_channel(tg))
    add_articles(rt, 1, prefix="Lain")
    await Dispatcher(rt).run_once()
    assert posts(tg) == ["Lain 0"]
    assert posts(tg, supergroup) == ["Berita 0", "Baru 0"]


async def test_a_network_error_before_sending_is_retried_later(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rt = make_rt(telegram_channel(tg).replace(tg.url, f"http://127.0.0.1:{port}"))
    add_articles(rt, 1)

    await Dispatcher(rt).run_once()

    [delivery] = deliveries(rt)
    assert delivery.state == "retry"
    assert "cannot reach Telegram" in (delivery.last_error or "") or \
        "could not be reached" in (delivery.last_error or "")
    with rt.store.session() as session:
        held = session.get_one(ChannelState, "telegram").next_send_at
    assert held is not None and held > datetime.now(UTC)


async def test_a_timeout_after_sending_leaves_the_delivery_unknown_and_never_resends(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram) -> None:
    rt = make_rt(telegram_channel(tg, timeout=SILENT))
    add_articles(rt, 1)
    await rt.adapter("telegram").check_online()
    tg.delay(LATE)  # the post is made, the answer comes after the timeout

    await Dispatcher(rt).run_once()
    make_due(rt)
    await Dispatcher(rt).run_once()

    [delivery] = deliveries(rt)
    assert delivery.state == "unknown"
    assert "may have been posted" in (delivery.last_error or "")
    assert len(tg.messages) == 1 and len(tg.calls_to("sendMessage")) == 1


# --------------------------------------------------------------------------- quiet hours


def quiet_adapter(tg: FakeTelegram, window: str, at: datetime) -> TelegramAdapter:
    adapter = TelegramAdapter(TelegramConfig(name="telegram", chat_id=tg.channel.handle,
                                             token=tg.token, api_base_url=tg.url,
                                             quiet_hours=window))
    adapter.site = JAKARTA
    adapter.clock = lambda: at
    return adapter


def jakarta(hour: int, minute: int = 0) -> datetime:
    """That wall-clock time in Jakarta (UTC+7), as an aware UTC datetime."""
    return datetime(2026, 3, 9, hour, minute, tzinfo=JAKARTA.tz).astimezone(UTC)


@pytest.mark.parametrize(("window", "at", "silent"), [
    ("22:00-06:00", jakarta(22, 30), True),
    ("22:00-06:00", jakarta(2, 0), True),
    ("22:00-06:00", jakarta(5, 59), True),
    ("22:00-06:00", jakarta(6, 0), False),
    ("22:00-06:00", jakarta(12, 0), False),
    ("22:00-06:00", jakarta(21, 59), False),
    ("13:00-14:00", jakarta(13, 30), True),
    ("13:00-14:00", jakarta(22, 30), False),
])
async def test_quiet_hours_in_the_site_timezone_send_without_notification(
        tg: FakeTelegram, window: str, at: datetime, silent: bool) -> None:
    adapter = quiet_adapter(tg, window, at)
    try:
        await adapter.send({"method": "sendMessage", "text": "<b>Judul</b>",
                            "parse_mode": "HTML"}, send_context())
    finally:
        await adapter.close()

    [posted] = tg.messages
    assert posted.disable_notification is silent


async def test_quiet_hours_apply_through_the_dispatcher(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram) -> None:
    rt = make_rt(telegram_channel(tg, quiet_hours='"22:00-06:00"'))
    add_articles(rt, 1)
    adapter = rt.adapter("telegram")
    assert isinstance(adapter, TelegramAdapter) and adapter.site is not None
    adapter.clock = lambda: jakarta(23, 15)  # 16:15 UTC: quiet in Jakarta, not in London

    await Dispatcher(rt).run_once()

    assert [m.disable_notification for m in tg.messages] == [True]


@pytest.mark.parametrize("window", ["22:00", "25:00-06:00", "22:00-22:00", "10pm-6am"])
def test_a_malformed_quiet_hours_window_is_a_config_error_with_its_line(
        write_config: Callable[..., Path], tg: FakeTelegram, window: str) -> None:
    path = write_config("channels:\n" + telegram_channel(tg, quiet_hours=f'"{window}"'))

    with pytest.raises(ConfigErrors) as caught:
        load_config(path)

    [error] = caught.value.errors
    assert error.key == "channels[0].quiet_hours"
    assert error.line is not None
    assert 'write it like "22:00-06:00"' in error.message
