"""The Telegram adapter against a fake Bot API server (real HTTP, python-telegram-bot unmocked)."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fakes.telegram_api import FakeTelegram
from support.timeouts import ANSWERED, LATE, SILENT

from distributor.channels.telegram.adapter import TelegramAdapter, TelegramConfig
from distributor.plugin import AmbiguousError, ChannelError, PermanentError, TransientError
from distributor.plugin.testing import send_context

# PTB 22 warns (from inside RetryAfter) that retry_after will become a timedelta; the adapter
# reads both forms, and outside pytest its own filter silences exactly this warning

PHOTO = "https://rinews.example/img/moskow.jpg"
CAPTION = '<b>Rusia dan Indonesia</b>\n\n<a href="https://rinews.example/berita/rusia">Baca</a>'


def config_for(tg: FakeTelegram, **overrides: Any) -> TelegramConfig:
    values: dict[str, Any] = {"name": "telegram", "chat_id": tg.channel.handle,
                              "token": tg.token, "api_base_url": tg.url,
                              "timeout": ANSWERED}
    values.update(overrides)
    return TelegramConfig(**values)


def text_message(text: str = "<b>Judul</b>\n\nLede <i>singkat</i>.") -> dict[str, Any]:
    return {"method": "sendMessage", "text": text, "parse_mode": "HTML"}


def photo_message(photo: str = PHOTO, caption: str = CAPTION) -> dict[str, Any]:
    return {"method": "sendPhoto", "photo": photo, "caption": caption, "parse_mode": "HTML"}


def rendered(error: BaseException) -> str:
    """Everything a traceback of ``error`` would print, causes included."""
    return "".join(traceback.format_exception(error))


@pytest.fixture
async def adapter(tg: FakeTelegram) -> AsyncIterator[TelegramAdapter]:
    telegram = TelegramAdapter(config_for(tg))
    yield telegram
    await telegram.close()


# --------------------------------------------------------------------------- posting


async def test_message_is_posted_with_exact_text_and_parse_mode_to_the_channel(
        tg: FakeTelegram, adapter: TelegramAdapter) -> None:
    message = text_message() | {"link_preview_options": {"is_disabled": True},
                                "disable_notification": True}

    remote_id = await adapter.send(message, send_context())

    [posted] = tg.messages
    assert remote_id == str(posted.message_id)
    assert posted.chat_id == tg.channel.id
    assert posted.method == "sendMessage"
    assert posted.text == "<b>Judul</b>\n\nLede <i>singkat</i>."
    assert posted.parse_mode == "HTML"
    assert posted.plain_text == "Judul\n\nLede singkat."
    assert posted.link_preview_options == {"is_disabled": True}
    assert posted.disable_notification is True


async def test_requests_go_to_bot_token_method_under_api_base_url(tg: FakeTelegram) -> None:
    telegram = TelegramAdapter(config_for(tg, api_base_url=tg.url + "/"))
    try:
        await telegram.send(text_message(), send_context())
        await telegram.send(text_message("kedua"), send_context())
    finally:
        await telegram.close()

    # the fake only understands /bot<token>/<method>; getMe once, at the first send
    assert [(c.method, c.token_ok) for c in tg.calls] == [
        ("getMe", True), ("sendMessage", True), ("sendMessage", True)]


async def test_numeric_chat_id_posts_to_that_chat(tg: FakeTelegram) -> None:
    telegram = TelegramAdapter(config_for(tg, chat_id=tg.channel.id))
    try:
        await telegram.send(text_message(), send_context())
    finally:
        await telegram.close()

    assert [m.chat_id for m in tg.messages] == [tg.channel.id]


async def test_photo_is_posted_with_its_caption(tg: FakeTelegram,
                                                adapter: TelegramAdapter) -> None:
    remote_id = await adapter.send(photo_message(), send_context())

    [posted] = tg.messages
    assert remote_id == str(posted.message_id)
    assert (posted.method, posted.photo, posted.text, posted.parse_mode) == (
        "sendPhoto", PHOTO, CAPTION, "HTML")


async def test_unreachable_photo_falls_back_to_the_caption_as_text(
        tg: FakeTelegram, adapter: TelegramAdapter) -> None:
    tg.unreachable_photos.add(PHOTO)

    remote_id = await adapter.send(photo_message(), send_context())

    assert [c.method for c in tg.calls[1:]] == ["sendPhoto", "sendMessage"]
    [posted] = tg.messages
    assert remote_id == str(posted.message_id)
    assert (posted.method, posted.text, posted.parse_mode) == ("sendMessage", CAPTION, "HTML")
    assert posted.photo is None


@pytest.mark.parametrize("description", [
    "Bad Request: wrong file identifier/HTTP URL specified",
    "Bad Request: wrong type of the web page content",
    "Bad Request: IMAGE_PROCESS_FAILED",
])
async def test_photo_refused_by_telegram_falls_back_to_text(
        tg: FakeTelegram, adapter: TelegramAdapter, description: str) -> None:
    tg.photo_fails(description)

    await adapter.send(photo_message(), send_context())

    assert [(m.method, m.text) for m in tg.messages] == [("sendMessage", CAPTION)]


async def test_a_caption_refused_for_its_markup_does_not_fall_back(
        tg: FakeTelegram, adapter: TelegramAdapter) -> None:
    with pytest.raises(PermanentError) as caught:
        await adapter.send(photo_message(caption="<b>Judul"), send_context())

    assert "can't parse entities" in caught.value.message
    assert tg.messages == []
    assert tg.calls_to("sendMessage") == []


async def test_chat_migration_posts_to_the_new_chat_and_remembers_it(
        tg: FakeTelegram, adapter: TelegramAdapter) -> None:
    new_chat = tg.migrate(-1009876543210)

    await adapter.send(text_message("satu"), send_context())
    await adapter.send(text_message("dua"), send_context())

    assert adapter.migrated_chat_id == new_chat.id
    assert [(m.chat_id, m.text) for m in tg.messages] == [(new_chat.id, "satu"),
                                                          (new_chat.id, "dua")]
    assert [c.params["chat_id"] for c in tg.calls_to("sendMessage")] == [
        tg.channel.handle, str(new_chat.id), str(new_chat.id)]


# --------------------------------------------------------------------------- refusals


async def test_flood_control_is_transient_with_telegrams_retry_after(
        tg: FakeTelegram, adapter: TelegramAdapter) -> None:
    tg.rate_limit(retry_after=7)

    with pytest.raises(TransientError) as caught:
        await adapter.send(text_message(), send_context())

    assert caught.value.retry_after == 7
    assert caught.value.channel_wide is True
    assert tg.messages == []


async def test_bad_request_is_permanent_with_telegrams_exact_description(
        tg: FakeTelegram, adapter: TelegramAdapter) -> None:
    with pytest.raises(PermanentError) as caught:
        await adapter.send(text_message("<p>Paragraf</p>"), send_context())

    assert caught.value.message == (
        'Telegram refused the message: Bad Request: can\'t parse entities: '
        'Unsupported start tag "p" at byte offset 0')
    assert caught.value.pause_channel is False


@pytest.mark.parametrize(("text", "accepted"), [
    ("<b>" + "a" * 4096 + "</b>", True),    # tags do not count
    ("a" * 4097, False),
    ("\U0001F600" * 2048, True),            # an emoji is two UTF-16 units
    ("\U0001F600" * 2048 + "a", False),
])
async def test_text_length_is_counted_like_telegram_after_parsing(
        tg: FakeTelegram, adapter: TelegramAdapter, text: str, accepted: bool) -> None:
    if accepted:
        await adapter.send(text_message(text), send_context())
        assert len(tg.messages) == 1
    else:
        with pytest.raises(PermanentError, match="Bad Request: message is too long"):
            await adapter.send(text_message(text), send_context())


async def test_bot_that_is_not_a_member_gets_a_permanent_error_with_a_fix(
        tg: FakeTelegram, adapter: TelegramAdapter) -> None:
    tg.channel.bot_status = "left"

    with pytest.raises(PermanentError) as caught:
        await adapter.send(text_message(), send_context())

    message = caught.value.message
    assert "Forbidden: bot is not a member of the channel chat" in message
    assert "administrator of the channel with the right to post" in message


async def test_unknown_chat_is_permanent_and_points_at_chat_id(tg: FakeTelegram) -> None:
    telegram = TelegramAdapter(config_for(tg, chat_id="@salah_ketik"))
    try:
        with pytest.raises(PermanentError) as caught:
            await telegram.send(text_message(), send_context())
    finally:
        await telegram.close()

    assert "Bad Request: chat not found" in caught.value.message
    assert "check chat_id ('@salah_ketik'" in caught.value.message


async def test_invalid_token_pauses_the_channel(tg: FakeTelegram) -> None:
    wrong_token = "7012345678:AAwrongwrongwrongwrongwrongwrong01"
    telegram = TelegramAdapter(config_for(tg, token=wrong_token))
    try:
        with pytest.raises(PermanentError) as caught:
            await telegram.send(text_message(), send_context())
    finally:
        await telegram.close()

    assert caught.value.pause_channel is True
    assert caught.value.message == (
        "Telegram refused the bot token of channel telegram with 401 Unauthorized: check its "
        "`token:` in the configuration, or the ${...} variable it names, against the token "
        "@BotFather gave the bot")
    assert tg.calls_to("sendMessage") == []


async def test_server_error_is_transient(tg: FakeTelegram, adapter: TelegramAdapter) -> None:
    tg.server_error(502, "Bad Gateway")

    with pytest.raises(TransientError) as caught:
        await adapter.send(text_message(), send_context())

    assert "502" in caught.value.message
    assert caught.value.channel_wide is True


async def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    telegram = TelegramAdapter(TelegramConfig(
        name="telegram", chat_id="@rinewsportal", token="7012345678:AAtokentokentokentokentoken0",
        api_base_url=f"http://127.0.0.1:{port}", timeout=ANSWERED))
    try:
        with pytest.raises(TransientError):
            await telegram.send(text_message(), send_context())
    finally:
        await telegram.close()


async def test_no_answer_after_sending_is_ambiguous_and_the_post_exists(
        tg: FakeTelegram) -> None:
    # without an observer bot the channel's posts are not shown: nothing to wait for
    adapter = TelegramAdapter(config_for(tg, reconcile_wait=0, timeout=SILENT))
    await adapter.check_online()  # the bot is ready: only the post times out
    tg.delay(LATE)  # the fake posts, then answers after the adapter's timeout

    try:
        with pytest.raises(AmbiguousError, match="may have been posted"):
            await adapter.send(text_message(), send_context())
    finally:
        await adapter.close()

    assert [m.text for m in tg.messages] == [text_message()["text"]]


async def test_no_answer_before_anything_was_sent_is_transient(
        tg: FakeTelegram) -> None:
    tg.delay(LATE, methods=("getMe",))  # the bot's getMe at start-up times out
    adapter = TelegramAdapter(config_for(tg, timeout=SILENT))

    try:
        with pytest.raises(TransientError):
            await adapter.send(text_message(), send_context())
    finally:
        await adapter.close()

    assert tg.messages == []


@pytest.mark.parametrize("message", [
    {"method": "sendVideo", "video": PHOTO},
    {"method": "sendMessage", "text": "   "},
    {"method": "sendPhoto", "photo": "/etc/passwd", "caption": "file lokal"},
    {"method": "sendMessage", "text": "x", "link_preview_options": {"no_such_option": 1}},
])
async def test_malformed_message_is_permanent_and_never_sent(
        tg: FakeTelegram, adapter: TelegramAdapter, message: dict[str, Any]) -> None:
    with pytest.raises(PermanentError):
        await adapter.send(message, send_context())

    assert tg.calls == []


# --------------------------------------------------------------------------- the token


async def test_token_is_in_no_log_line_and_no_error(
        tg: FakeTelegram, adapter: TelegramAdapter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[ChannelError] = []

    await adapter.send(text_message(), send_context())
    tg.bad_request("Bad Request: message text is empty")
    tg.forbidden()
    tg.rate_limit(3)
    for _ in range(3):
        with pytest.raises(ChannelError) as caught:
            await adapter.send(text_message(), send_context())
        errors.append(caught.value)
    wrong = TelegramAdapter(config_for(tg, token="7012345678:AAanotheranotheranotheranother99"))
    with pytest.raises(PermanentError) as caught:
        # PTB's own InvalidToken message quotes the token
        await wrong.send(text_message(), send_context())
    await wrong.close()
    errors.append(caught.value)

    assert "/bot<redacted>/sendMessage" in caplog.text  # the URLs were logged, redacted
    for token in (tg.token, "7012345678:AAanotheranotheranotheranother99"):
        assert token not in caplog.text
        for error in errors:
            assert token not in rendered(error)


# --------------------------------------------------------------------------- check --online


async def test_check_online_names_the_bot_and_the_channel(adapter: TelegramAdapter) -> None:
    assert await adapter.check_online() == "@rinews_bot can post to RI News Portal"


async def test_check_online_fails_when_the_bot_may_not_post(
        tg: FakeTelegram, adapter: TelegramAdapter) -> None:
    tg.channel.can_post_messages = False

    with pytest.raises(PermanentError, match="cannot post to RI News Portal"):
        await adapter.check_online()


async def test_adapter_reopens_after_close(tg: FakeTelegram, adapter: TelegramAdapter) -> None:
    await adapter.send(text_message("satu"), send_context())
    await adapter.close()

    await adapter.send(text_message("dua"), send_context())

    assert [m.text for m in tg.messages] == ["satu", "dua"]
    assert len(tg.calls_to("getMe")) == 2
