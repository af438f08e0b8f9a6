"""Telegram channel adapter (Bot API through python-telegram-bot).

Sending maps every outcome onto the three error kinds of :mod:`distributor.channels.base`:

* flood control (429 ``retry_after``) and answers that never left this machine (connection
  refused, connect/pool timeouts, 5xx answers) are *transient*;
* a refusal by Telegram (400 with its description, 403, an invalid token) is *permanent*;
* a request that was sent but not answered (read timeout, a connection broken mid-answer) is
  *ambiguous*: the post may exist.

The bot token is part of every request URL (``{api_base_url}/bot{token}/{method}``), so this
module installs a logging filter on httpx, httpcore and python-telegram-bot that redacts it, and
never puts it (nor an exception that carries it) into the errors it raises.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import warnings
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import Field, SecretStr
from telegram import Bot, ChatFullInfo, ChatMember, LinkPreviewOptions
from telegram import Message as TelegramMessage
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from distributor.articles import Article
from distributor.channels.base import (
    Adapter,
    AmbiguousError,
    ChannelError,
    Message,
    PermanentError,
    RenderContext,
    TransientError,
)
from distributor.config import ChannelConfig

log = logging.getLogger(__name__)
# RetryAfter warns on creation that retry_after becomes a timedelta; _retry_seconds takes both
warnings.filterwarnings("ignore", message=r"(?s).*`retry_after`", category=PTBDeprecationWarning)


class TelegramConfig(ChannelConfig):
    type: Literal["telegram"] = "telegram"
    chat_id: str | int
    token: SecretStr
    api_base_url: str = "https://api.telegram.org"
    hashtags: bool = False
    quiet_hours: str | None = Field(default=None, description='e.g. "22:00-06:00", site timezone')
    timeout: float = 20.0


# --------------------------------------------------------------------------- secrets in logs

#: a bot token as BotFather issues them: "<bot id>:<35 characters>"
_TOKEN_SHAPE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
#: loggers that see request URLs (httpx logs every request at INFO) or the token itself
_URL_LOGGERS = ("httpx", "httpcore", "telegram", __name__)


class _RedactSecrets(logging.Filter):
    """Rewrites log records that contain a known secret (or anything shaped like a bot token)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "<redacted>")
            quoted = quote(secret, safe="")
            if quoted != secret:
                text = text.replace(quoted, "<redacted>")
        return _TOKEN_SHAPE.sub("<redacted>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's business, not ours
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            clean = self.redact(text)
            if clean != text:
                record.exc_text = clean
        return True


_REDACTOR = _RedactSecrets()


def _guard_logs(secrets: Iterable[str]) -> None:
    """Redact ``secrets`` in every logger that may print a request URL (idempotent).

    A filter on a logger only sees records created on that very logger, so it is installed on
    each existing logger below the prefixes; call again after libraries created new loggers.
    """
    _REDACTOR.secrets.update(s for s in secrets if s)
    prefixes = tuple(p.split(".")[0] for p in _URL_LOGGERS)
    names = set(_URL_LOGGERS) | {
        name for name in list(logging.root.manager.loggerDict) if name.split(".")[0] in prefixes
    }
    for name in names:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)


def _clean_chain(exc: BaseException) -> bool:
    """True if no exception in the chain of ``exc`` mentions a secret."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = f"{current!s} {current.args!r}"
        if _REDACTOR.redact(text) != text:
            return False
        current = current.__cause__ or current.__context__
    return True


# --------------------------------------------------------------------------- the raw answer

@dataclass(frozen=True)
class _Answer:
    """What Telegram answered to the last request (PTB rewrites the description)."""

    status: int
    description: str | None
    parameters: dict[str, Any] = field(default_factory=dict)


#: set by _Request for the task that made the request (PTB awaits it in the same task)
_LAST_ANSWER: ContextVar[_Answer | None] = ContextVar("distributor_telegram_answer", default=None)


class _Request(HTTPXRequest):
    """PTB's httpx transport, remembering the status and Telegram's exact description."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        _LAST_ANSWER.set(None)
        status, payload = await super().do_request(*args, **kwargs)
        description: str | None = None
        parameters: dict[str, Any] = {}
        if not 200 <= status < 300:
            try:
                data = json.loads(payload.decode("utf-8", "replace"))
            except ValueError:
                data = None
            if isinstance(data, dict):
                if isinstance(data.get("description"), str):
                    description = data["description"]
                if isinstance(data.get("parameters"), dict):
                    parameters = data["parameters"]
        _LAST_ANSWER.set(_Answer(status, description, parameters))
        return status, payload


@dataclass
class _Failure:
    error: TelegramError
    answer: _Answer | None


# --------------------------------------------------------------------------- messages

_KNOWN_KEYS = {"method", "text", "caption", "photo", "parse_mode", "link_preview_options",
               "disable_notification", "chat_id"}
_FILE_ID = re.compile(r"[A-Za-z0-9_-]+")
#: BadRequest descriptions that mean "Telegram could not use the photo"
_PHOTO_PROBLEMS = (
    "wrong file identifier",
    "http url",
    "failed to get http url content",
    "wrong type of the web page content",
    "wrong remote file identifier",
    "url host is empty",
    "photo_invalid",
    "image_process_failed",
    "photo_invalid_dimensions",
    "photo_save_file_invalid",
    "photo_ext_invalid",
    "webpage_curl_failed",
    "webpage_media_empty",
    "file must be non-empty",
    "not enough rights to send photos",
)
_RIGHTS_PROBLEMS = ("chat not found", "need administrator rights", "not enough rights",
                    "have no rights to send", "chat_write_forbidden", "chat_admin_required")


@dataclass
class _Outgoing:
    """One validated Bot API call."""

    method: Literal["sendMessage", "sendPhoto"]
    text: str
    parse_mode: str | None
    photo: str | None = None
    link_preview_options: LinkPreviewOptions | None = None
    disable_notification: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    async def call(self, bot: Bot, chat_id: str | int) -> TelegramMessage:
        if self.method == "sendPhoto":
            assert self.photo is not None
            return await bot.send_photo(
                chat_id=chat_id, photo=self.photo, caption=self.text or None,
                parse_mode=self.parse_mode, disable_notification=self.disable_notification,
                api_kwargs=self.extra or None,
            )
        return await bot.send_message(
            chat_id=chat_id, text=self.text, parse_mode=self.parse_mode,
            link_preview_options=self.link_preview_options,
            disable_notification=self.disable_notification, api_kwargs=self.extra or None,
        )

    def without_photo(self) -> _Outgoing:
        """The caption as a text message (the link in it still gets a preview)."""
        return _Outgoing("sendMessage", self.text, self.parse_mode,
                         link_preview_options=self.link_preview_options,
                         disable_notification=self.disable_notification, extra=dict(self.extra))


def _outgoing(message: Message) -> _Outgoing:
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
    return _Outgoing(method, text, parse_mode, photo=photo if method == "sendPhoto" else None,
                     link_preview_options=options,
                     disable_notification=None if quiet is None else bool(quiet), extra=extra)


def _retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int will become a timedelta
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _can_post(chat: ChatFullInfo, member: ChatMember) -> bool:
    status = member.status
    if status == "creator":
        return True
    if status == "administrator":
        return chat.type != "channel" or bool(getattr(member, "can_post_messages", False))
    if status == "member":
        return chat.type != "channel"
    if status == "restricted":
        return bool(getattr(member, "can_send_messages", False))
    return False


# --------------------------------------------------------------------------- the adapter

class TelegramAdapter(Adapter):
    type_name = "telegram"
    config_model = TelegramConfig
    body_maxlen = 4096
    rate_per_minute = 20
    config: TelegramConfig

    def __init__(self, config: ChannelConfig):
        super().__init__(config)
        #: set when Telegram said the chat moved (group -> supergroup); used from then on
        self.migrated_chat_id: int | None = None
        self._bot: Bot | None = None
        self._lock = asyncio.Lock()
        _guard_logs([self._token])

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        from distributor.render.telegram import render_telegram

        return render_telegram(article, ctx)

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def _token(self) -> str:
        return self.config.token.get_secret_value()

    @property
    def _base_url(self) -> str:
        return self.config.api_base_url.rstrip("/")

    @property
    def chat_id(self) -> str | int:
        """Where posts go: the configured chat, or the one Telegram said it migrated to."""
        return self.migrated_chat_id if self.migrated_chat_id is not None else self.config.chat_id

    def _new_bot(self) -> Bot:
        timeout = self.config.timeout

        def request() -> _Request:
            return _Request(connection_pool_size=8, connect_timeout=timeout,
                            read_timeout=timeout, write_timeout=timeout, pool_timeout=timeout,
                            media_write_timeout=max(timeout, 20.0))

        # PTB appends the token to base_url: requests go to {api_base_url}/bot{token}/{method}
        bot = Bot(self._token, base_url=f"{self._base_url}/bot",
                  base_file_url=f"{self._base_url}/file/bot",
                  request=request(), get_updates_request=request())
        _guard_logs([self._token])  # httpx/httpcore may have created loggers just now
        return bot

    async def _ready(self) -> Bot:
        """The bot, created and initialized (getMe) once."""
        async with self._lock:
            if self._bot is not None:
                return self._bot
            bot = self._new_bot()
            _LAST_ANSWER.set(None)
            try:
                await bot.initialize()
            except TelegramError as exc:
                failure = _Failure(exc, _LAST_ANSWER.get())
            else:
                self._bot = bot
                return bot
            await bot.shutdown()
        # nothing was posted yet: a timeout here is not ambiguous
        raise self._error(failure, sent=False)

    async def _call(self, bot: Bot, out: _Outgoing) -> TelegramMessage | _Failure:
        """One post; once more at the new chat id if Telegram says the chat migrated."""
        failure: _Failure | None = None
        for _ in range(2):
            _LAST_ANSWER.set(None)
            try:
                return await out.call(bot, self.chat_id)
            except ChatMigrated as exc:
                failure = _Failure(exc, _LAST_ANSWER.get())
                if self.migrated_chat_id == exc.new_chat_id:
                    break
                log.warning(
                    "Telegram chat %s of channel %s migrated to %s; posting there. "
                    "Set chat_id: %s in the configuration.",
                    self.chat_id, self.config.name, exc.new_chat_id, exc.new_chat_id,
                )
                self.migrated_chat_id = exc.new_chat_id
            except TelegramError as exc:
                return _Failure(exc, _LAST_ANSWER.get())
        assert failure is not None
        return failure

    def _error(self, failure: _Failure, *, sent: bool) -> ChannelError:
        """The channel error for a failed call; ``sent``: the call may have published."""
        error = self._translate(failure, sent=sent)
        error.message = _REDACTOR.redact(error.message)
        error.args = (error.message,)
        if _clean_chain(failure.error):
            error.__cause__ = failure.error
        else:
            error.__suppress_context__ = True
        return error

    def _translate(self, failure: _Failure, *, sent: bool) -> ChannelError:
        exc, answer = failure.error, failure.answer
        description = (answer.description if answer and answer.description else None) \
            or exc.message
        lowered = description.lower()
        chat = self.chat_id

        if isinstance(exc, RetryAfter):
            seconds = _retry_seconds(exc)
            return TransientError(
                f"Telegram flood control: retry in {seconds:g} s ({description})",
                retry_after=seconds, channel_wide=True,
            )
        if isinstance(exc, InvalidToken):
            status = answer.status if answer else 401
            hint = "" if status == 401 else f" (or api_base_url {self._base_url!r} is wrong)"
            return PermanentError(
                f"the bot token is invalid; check TELEGRAM_BOT_TOKEN{hint}. "
                f"Telegram answered {status} {description}",
                pause_channel=True,
            )
        if isinstance(exc, ChatMigrated):
            return PermanentError(
                f"Telegram keeps saying chat {chat} migrated to {exc.new_chat_id}; "
                "check chat_id in the configuration"
            )
        if isinstance(exc, Forbidden) or any(p in lowered for p in _RIGHTS_PROBLEMS):
            return PermanentError(
                f"Telegram refused the message: {description}. Add the bot as an administrator "
                f"of the channel with the right to post messages, and check chat_id ({chat!r}: "
                "a public channel's @username or a private one's numeric id, -100...)"
            )
        if isinstance(exc, BadRequest):  # (a subclass of NetworkError: test it first)
            return PermanentError(f"Telegram refused the message: {description}")
        if isinstance(exc, TimedOut):
            cause = exc.__cause__
            if not sent or isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout):
                return TransientError(f"Telegram could not be reached in time ({description})",
                                      channel_wide=True)
            return AmbiguousError(
                f"no answer from Telegram within {self.config.timeout:g} s: "
                "the message may have been posted"
            )
        if isinstance(exc, NetworkError):
            if answer is not None:  # Telegram (or a proxy) answered with an HTTP error
                if answer.status >= 500 or answer.status == 429:
                    return TransientError(
                        f"Telegram is unavailable: {answer.status} {description}",
                        channel_wide=True,
                    )
                return PermanentError(
                    f"Telegram refused the message: {answer.status} {description}"
                )
            cause = exc.__cause__
            if not sent or isinstance(
                cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                | httpx.UnsupportedProtocol | httpx.ProxyError
            ):
                return TransientError(
                    f"cannot reach Telegram at {self._base_url}: {description}",
                    channel_wide=True,
                )
            return AmbiguousError(
                f"the connection to Telegram broke before it answered ({description}): "
                "the message may have been posted"
            )
        # anything else: an unreadable answer, a conflict, an unknown endpoint
        if sent and answer is not None and 200 <= answer.status < 300:
            return AmbiguousError(
                f"Telegram's answer could not be read ({description}): "
                "the message may have been posted"
            )
        return PermanentError(f"Telegram error: {description}")

    # -- the adapter interface --------------------------------------------------------------
    async def send(self, message: Message, *, previous_id: str | None = None) -> str:
        """Post one message to the channel; return Telegram's message id.

        ``previous_id`` is not used: channel posts of one delivery are not chained.
        """
        out = _outgoing(message)
        bot = await self._ready()
        result = await self._call(bot, out)
        if (
            isinstance(result, _Failure)
            and out.method == "sendPhoto"
            and isinstance(result.error, BadRequest)
            and out.text.strip()
        ):
            answer = result.answer
            description = (answer.description if answer and answer.description else None) \
                or result.error.message
            if any(p in description.lower() for p in _PHOTO_PROBLEMS):
                log.warning(
                    "Telegram could not use the photo %s (%s); posting the text without it",
                    out.photo, description,
                )
                result = await self._call(bot, out.without_photo())
        if isinstance(result, _Failure):
            raise self._error(result, sent=True)
        return str(result.message_id)

    async def check_online(self) -> str:
        """getMe, getChat and getChatMember: "@bot can post to <chat title>"."""
        bot = await self._ready()
        _LAST_ANSWER.set(None)
        try:
            chat = await bot.get_chat(self.chat_id)
            member = await bot.get_chat_member(self.chat_id, bot.id)
        except TelegramError as exc:
            failure = _Failure(exc, _LAST_ANSWER.get())
        else:
            title = chat.title or (f"@{chat.username}" if chat.username else str(chat.id))
            if not _can_post(chat, member):
                raise PermanentError(
                    f"@{bot.username} cannot post to {title} (it is {member.status}): add the "
                    "bot as an administrator of the channel with the right to post messages"
                )
            return f"@{bot.username} can post to {title}"
        raise self._error(failure, sent=False)

    async def close(self) -> None:
        async with self._lock:
            bot, self._bot = self._bot, None
        if bot is not None:
            await bot.shutdown()
