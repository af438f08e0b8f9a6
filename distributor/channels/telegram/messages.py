"""A rendered message (Contract 3's telegram messages) checked and turned into one Bot API call,
and shown as a reader reads it."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from telegram import Bot, InputFile, LinkPreviewOptions
from telegram import Message as TelegramMessage

from distributor.plugin import Message, PermanentError

_KNOWN_KEYS = {"method", "text", "caption", "photo", "parse_mode", "link_preview_options",
               "disable_notification", "chat_id"}
_FILE_ID = re.compile(r"[A-Za-z0-9_-]+")
_LINK = re.compile(r'<a\s+href="([^"]*)"[^>]*>(.*?)</a>', re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def readable_text(telegram_html: str) -> str:
    """A Telegram HTML text as plain words: ``<a href="U">T</a>`` becomes ``T (U)``."""
    linked = _LINK.sub(lambda m: f"{m.group(2)} ({html.unescape(m.group(1))})", telegram_html)
    return html.unescape(_TAG.sub("", linked))


@dataclass
class Upload:
    """A photo's bytes, uploaded instead of its URL (Telegram could not fetch the URL)."""

    data: bytes
    media_type: str

    def file(self, url: str) -> InputFile:
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-",
                      url.rsplit("/", 1)[-1].split("?")[0].rsplit(".", 1)[0])
        suffix = {"image/jpeg": "jpg"}.get(self.media_type,
                                           self.media_type.rsplit("/", 1)[-1] or "jpg")
        return InputFile(self.data, filename=f"{stem.strip('-')[:60] or 'photo'}.{suffix}",
                         attach=False)


@dataclass
class Outgoing:
    """One validated Bot API call."""

    method: Literal["sendMessage", "sendPhoto"]
    text: str
    parse_mode: str | None
    photo: str | None = None
    link_preview_options: LinkPreviewOptions | None = None
    disable_notification: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    upload: Upload | None = None

    async def call(self, bot: Bot, chat_id: str | int) -> TelegramMessage:
        if self.method == "sendPhoto":
            assert self.photo is not None
            photo: str | InputFile = self.photo if self.upload is None \
                else self.upload.file(self.photo)
            return await bot.send_photo(
                chat_id=chat_id, photo=photo, caption=self.text or None,
                parse_mode=self.parse_mode, disable_notification=self.disable_notification,
                api_kwargs=self.extra or None,
            )
        return await bot.send_message(
            chat_id=chat_id, text=self.text, parse_mode=self.parse_mode,
            link_preview_options=self.link_preview_options,
            disable_notification=self.disable_notification, api_kwargs=self.extra or None,
        )

    def uploading(self, data: bytes, media_type: str) -> Outgoing:
        """The same post with the photo's bytes uploaded."""
        return Outgoing("sendPhoto", self.text, self.parse_mode, photo=self.photo,
                        disable_notification=self.disable_notification, extra=dict(self.extra),
                        upload=Upload(data, media_type))

    def without_photo(self) -> Outgoing:
        """The caption as a text message (the link in it still gets a preview)."""
        return Outgoing("sendMessage", self.text, self.parse_mode,
                        link_preview_options=self.link_preview_options,
                        disable_notification=self.disable_notification, extra=dict(self.extra))


def outgoing(message: Message) -> Outgoing:
    """Check a rendered message and turn it into a call; malformed ones are permanent errors."""
    method = message.get("method", "sendMessage")
    if method not in ("sendMessage", "sendPhoto"):
        raise PermanentError(
            f"cannot send a Telegram message with method {method!r}: "
            "only sendMessage and sendPhoto are supported"
        )
    key = "caption" if method == "sendPhoto" else "text"
    text = message.get(key, "")
    if text is None:
        text = ""
    if not isinstance(text, str) or (method == "sendMessage" and not text.strip()):
        raise PermanentError(f"a Telegram {method} needs a non-empty {key!r} string")
    parse_mode = message.get("parse_mode")
    if parse_mode is not None and not isinstance(parse_mode, str):
        raise PermanentError(f"parse_mode must be a string, not {parse_mode!r}")

    photo = message.get("photo")
    # a bare path would make python-telegram-bot upload a local file: never do that
    if method == "sendPhoto" and not (
        isinstance(photo, str)
        and (photo.startswith(("http://", "https://")) or _FILE_ID.fullmatch(photo))
    ):
        raise PermanentError(
            f"a Telegram sendPhoto needs the photo as an http(s) URL, got {photo!r}"
        )

    preview = message.get("link_preview_options")
    options: LinkPreviewOptions | None = None
    if isinstance(preview, LinkPreviewOptions):
        options = preview
    elif isinstance(preview, dict):
        try:
            options = LinkPreviewOptions(**preview)
        except TypeError as exc:
            raise PermanentError(f"invalid link_preview_options {preview!r}: {exc}") from None
    elif preview is not None:
        raise PermanentError(f"link_preview_options must be an object, not {preview!r}")

    quiet = message.get("disable_notification")
    extra = {k: v for k, v in message.items() if k not in _KNOWN_KEYS and not k.startswith("_")}
    return Outgoing(method, text, parse_mode, photo=photo if method == "sendPhoto" else None,
                    link_preview_options=options,
                    disable_notification=None if quiet is None else bool(quiet), extra=extra)
