"""A photo Telegram refuses by URL is downloaded and uploaded; if the image fails entirely the
post goes out as text. Against the fake Bot API and a real image server (both HTTP)."""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fakes.telegram_api import FakeTelegram
from feedserver import FeedServer
from support.timeouts import ANSWERED

from distributor.channels.telegram.adapter import TelegramAdapter, TelegramConfig
from distributor.config import SiteConfig
from distributor.plugin.testing import send_context

CAPTION = '<b>Rusia dan Indonesia</b>\n\n<a href="https://rinews.example/berita/rusia">Baca</a>'
CAPTION_TEXT = "Rusia dan Indonesia\n\nBaca"


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG (red pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                             0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PICTURE = png()


def photo_message(photo: str) -> dict[str, Any]:
    return {"method": "sendPhoto", "photo": photo, "caption": CAPTION, "parse_mode": "HTML"}


@pytest.fixture
def images() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
async def adapter(tg: FakeTelegram) -> AsyncIterator[TelegramAdapter]:
    telegram = TelegramAdapter(TelegramConfig(name="telegram", chat_id=tg.channel.handle,
                                              token=tg.token, api_base_url=tg.url,
                                              timeout=ANSWERED))
    # the test's image server is on this machine: the newsroom's own image host
    telegram.site = SiteConfig(name="RI", url="https://rinews.example",
                               image_allow_hosts=["127.0.0.1"])
    await telegram.check_online()
    yield telegram
    await telegram.close()


def sends(tg: FakeTelegram) -> list[tuple[str, str]]:
    """(method, photo sent as) of every send call: the URL, or "upload" for a file."""
    return [(c.method, "upload" if isinstance(c.params.get("photo"), bytes)
             else str(c.params.get("photo", "")))
            for c in tg.calls if c.method in ("sendPhoto", "sendMessage")]


async def test_a_photo_telegram_cannot_fetch_is_downloaded_and_uploaded(
        tg: FakeTelegram, images: FeedServer, adapter: TelegramAdapter,
        caplog: pytest.LogCaptureFixture) -> None:
    url = images.route("/img/moskow.png", body=PICTURE, content_type="image/png")
    tg.unreachable_photos.add(url)  # Telegram's servers cannot reach it; this machine can

    with caplog.at_level(logging.INFO, logger="distributor.channels.telegram"):
        remote_id = await adapter.send(photo_message(url), send_context())

    assert sends(tg) == [("sendPhoto", url), ("sendPhoto", "upload")]
    assert len(images.requests_to("/img/moskow.png")) == 1
    [posted] = tg.messages
    assert remote_id == str(posted.message_id)
    assert posted.method == "sendPhoto" and posted.photo_bytes == PICTURE
    assert (posted.text, posted.plain_text) == (CAPTION, CAPTION_TEXT)
    assert any("uploading it" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("route", [
    {"status": 404, "body": b"not here", "content_type": "text/plain"},
    {"body": b"<html>a page, not a picture</html>", "content_type": "text/html"},
], ids=["missing", "not-an-image"])
async def test_a_photo_that_cannot_be_downloaded_either_goes_out_as_text(
        tg: FakeTelegram, images: FeedServer, adapter: TelegramAdapter,
        route: dict[str, Any]) -> None:
    url = images.route("/img/x.jpg", **route)
    tg.unreachable_photos.add(url)

    remote_id = await adapter.send(photo_message(url), send_context())

    assert sends(tg) == [("sendPhoto", url), ("sendMessage", "")]
    [posted] = tg.messages
    assert remote_id == str(posted.message_id)
    assert (posted.method, posted.text, posted.photo) == ("sendMessage", CAPTION, None)


async def test_an_upload_telegram_refuses_too_goes_out_as_text(
        tg: FakeTelegram, images: FeedServer, adapter: TelegramAdapter) -> None:
    url = images.route("/img/big.png", body=PICTURE, content_type="image/png")
    tg.photo_fails("Bad Request: wrong type of the web page content")
    tg.photo_fails("Bad Request: IMAGE_PROCESS_FAILED")

    await adapter.send(photo_message(url), send_context())

    assert sends(tg) == [("sendPhoto", url), ("sendPhoto", "upload"), ("sendMessage", "")]
    assert [(m.method, m.text) for m in tg.messages] == [("sendMessage", CAPTION)]


async def test_a_photo_telegram_cannot_process_is_not_downloaded(
        tg: FakeTelegram, images: FeedServer, adapter: TelegramAdapter) -> None:
    url = images.route("/img/odd.png", body=PICTURE, content_type="image/png")
    tg.photo_fails("Bad Request: IMAGE_PROCESS_FAILED")  # it fetched the image: no use again

    await adapter.send(photo_message(url), send_context())

    assert images.requests_to("/img/odd.png") == []
    assert sends(tg) == [("sendPhoto", url), ("sendMessage", "")]
