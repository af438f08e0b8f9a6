"""Telegram channel adapter (Bot API through python-telegram-bot).

Sending maps every outcome onto the three error kinds of :mod:`distributor.plugin`:

* flood control (429 ``retry_after``) and answers that never left this machine (connection
  refused, connect/pool timeouts, 5xx answers) are *transient*;
* a refusal by Telegram (400 with its description, 403, an invalid token) is *permanent*;
* a request that was sent but not answered (read timeout, a connection broken mid-answer) is
  *ambiguous*: the post may exist.

A photo Telegram cannot fetch by URL is downloaded here and uploaded; if the image fails
entirely (no download, refused upload), the caption goes out as a text message.

The bot token is part of every request URL (``{api_base_url}/bot{token}/{method}``), so this
module installs a logging filter on httpx, httpcore and python-telegram-bot that redacts it, and
never puts it (nor an exception that carries it) into the errors it raises.

State shared by every adapter of one bot token in this process (keyed by a hash of the API base
URL and the token, never the token itself):

* the token's pacing: at most 30 message requests a second, whatever the channel (Telegram's
  per-bot limit; the dispatcher paces each channel at 20 posts a minute). In embedded mode one
  process sends everything, so an in-process limiter is exact; distributed workers each keep
  their own, so there the per-channel lock and pacing in the database are what holds;
* chats under flood control: after a 429 no request goes to that chat before ``retry_after``
  ends (the dispatcher holds the channel in the database too, across restarts);
* an invalid token: once Telegram said so, every channel on the token stops with the same
  message, without another request (re-checked with one getMe after :data:`BAD_TOKEN_RECHECK`);
* chats that migrated (group -> supergroup); the adapter also records the new id in
  ``channel_state.moved_to`` (through the runtime given to :meth:`TelegramAdapter.bind`), so a
  restart posts straight to the new chat until chat_id in channels.yaml is updated;
* channel posts seen in updates (:func:`remember_channel_post`), which :meth:`TelegramAdapter.
  reconcile` searches for a post whose answer was lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import logging
import re
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import Field, SecretStr, field_validator
from telegram import Bot, ChatFullInfo, ChatMember, InputFile, LinkPreviewOptions, MessageEntity
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
from distributor.config import ChannelConfig, Seconds
from distributor.logs import SecretFilter
from distributor.plugin import (
    Adapter,
    AmbiguousError,
    ChannelError,
    PermanentError,
    SendContext,
    TransientError,
)
from distributor.render.context import Message, RenderContext

if TYPE_CHECKING:
    from distributor.runtime import Runtime

log = logging.getLogger(__name__)
# RetryAfter warns on creation that retry_after becomes a timedelta; _retry_seconds takes both
warnings.filterwarnings("ignore", message=r"(?s).*`retry_after`", category=PTBDeprecationWarning)


_QUIET_HOURS = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def parse_quiet_hours(value: str) -> tuple[clock_time, clock_time]:
    """``"22:00-06:00"`` -> (22:00, 06:00); the window may cross midnight."""
    match = _QUIET_HOURS.fullmatch(value)
    if match is not None:
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) != (h2, m2):
            return clock_time(h1, m1), clock_time(h2, m2)
    raise ValueError(f'{value!r} is not a time window; write it like "22:00-06:00" (24-hour '
                     "clock, site timezone; start and end must differ)")


def in_window(now: clock_time, window: tuple[clock_time, clock_time]) -> bool:
    """True when ``now`` is in [start, end) (a window across midnight wraps)."""
    start, end = window
    if start < end:
        return start <= now < end
    return now >= start or now < end


class TelegramConfig(ChannelConfig):
    type: Literal["telegram"] = "telegram"
    chat_id: str | int
    token: SecretStr
    api_base_url: str = "https://api.telegram.org"
    hashtags: bool = False
    quiet_hours: str | None = Field(
        default=None, description='e.g. "22:00-06:00" (site timezone): posts in this window '
                                  "go out without a notification sound")
    timeout: Seconds = 20.0
    editors: list[int] = Field(
        default_factory=list,
        description="Telegram user ids of the editors who may push articles by talking to this "
                    "channel's bot (the bot then runs inside `distributor run`)")
    editor_bot: Literal["polling", "webhook"] = Field(
        default="polling",
        description="how the editor bot receives messages: `polling` (getUpdates long polling "
                    "inside `distributor run`) or `webhook` (`distributor serve` registers "
                    "web.base_url + /telegram/<secret path> with setWebhook at startup and "
                    "answers there; needs web.secret_key and a base_url Telegram can reach "
                    "over HTTPS; `distributor run` then does not poll this token). Channels "
                    "sharing a token share the bot: one of them saying webhook is enough")
    observer_token: SecretStr | None = Field(
        default=None,
        description="token of a second bot that is an administrator of the channel: Telegram "
                    "shows it the channel's posts, which finds a post whose answer was lost "
                    "(Telegram does not send a bot updates about its own posts)")
    reconcile_wait: Seconds = Field(
        default=2.0, ge=0,
        description="seconds to look for a post among the channel's posts when Telegram did "
                    "not answer the request that sent it (0: one look, no waiting)")

    @field_validator("quiet_hours")
    @classmethod
    def _valid_window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)
        return value


# --------------------------------------------------------------------------- secrets in logs

#: a bot token as BotFather issues them: "<bot id>:<35 characters>"
_TOKEN_SHAPE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
#: loggers that see request URLs (httpx logs every request at INFO) or the token itself
_URL_LOGGERS = ("httpx", "httpcore", "telegram", __name__)


_REDACTOR = SecretFilter(_URL_LOGGERS, patterns=[_TOKEN_SHAPE])
_guard_logs = _REDACTOR.guard
_clean_chain = _REDACTOR.clean_chain


# --------------------------------------------------------------------------- the raw answer

@dataclass(frozen=True)
class _Answer:
    """What Telegram answered to the last request (PTB rewrites the description)."""

    status: int
    description: str | None
    parameters: dict[str, Any] = field(default_factory=dict)


#: set by _Request for the task that made the request (PTB awaits it in the same task)
_LAST_ANSWER: ContextVar[_Answer | None] = ContextVar("distributor_telegram_answer", default=None)


#: Bot API methods that count as messages for Telegram's per-bot limit
_MESSAGE_METHODS = re.compile(r"(send|copy|forward)[A-Za-z]*|editMessage[A-Za-z]*")


class _Request(HTTPXRequest):
    """PTB's httpx transport, remembering the status and Telegram's exact description, and
    pacing message requests with the token's limiter."""

    def __init__(self, *, limiter: TokenLimiter | None = None, connection_pool_size: int = 1,
                 **kwargs: Any):
        super().__init__(connection_pool_size=connection_pool_size, **kwargs)
        self.limiter = limiter
        # a request takes its place in the token's second only when a connection is free for
        # it, so requests queued for a connection cannot bunch up into a later second
        self._connections = asyncio.Semaphore(connection_pool_size)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        url = str(args[0] if args else kwargs.get("url", ""))
        async with self._connections:
            if self.limiter is not None and _MESSAGE_METHODS.fullmatch(url.rsplit("/", 1)[-1]):
                await self.limiter.wait()
            return await self._answer(*args, **kwargs)

    async def _answer(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
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


# --------------------------------------------------------------------------- per-token state

#: Telegram's limit for one bot: about 30 messages a second across all chats
TOKEN_RATE = 30
#: the window the limiter counts in: a little over a second, so that network jitter can never
#: make Telegram see 31 requests in one of its seconds
TOKEN_WINDOW = 1.1
#: how long an invalid token stops sends without a request before one getMe checks it again
BAD_TOKEN_RECHECK = 300.0
#: update types the editor bot asks for (the reconciliation peeks ask for the same set, so a
#: peek never changes what Telegram keeps for the editor bot)
EDITOR_UPDATES = ("message", "callback_query", "channel_post")


_LINK = re.compile(r'<a\s+href="([^"]*)"[^>]*>(.*?)</a>', re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def readable_text(telegram_html: str) -> str:
    """A Telegram HTML text as plain words: ``<a href="U">T</a>`` becomes ``T (U)``."""
    linked = _LINK.sub(lambda m: f"{m.group(2)} ({html.unescape(m.group(1))})", telegram_html)
    return html.unescape(_TAG.sub("", linked))


def credential_key(token: str, api_base_url: str = "https://api.telegram.org") -> str:
    """A name for one bot token on one Bot API server that does not reveal the token."""
    raw = f"{api_base_url.rstrip('/')}\0{token}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


class TokenLimiter:
    """At most ``rate`` requests in any ``window`` seconds.

    Each request takes its place at the moment it goes out (under a thread lock, without
    awaiting anything), so it works for any number of adapters, tasks and event loops in a
    process; a request that finds the window full sleeps until the oldest place leaves it.
    """

    def __init__(self, rate: int = TOKEN_RATE, window: float = TOKEN_WINDOW):
        self.rate = rate
        self.window = window
        #: when the last ``rate`` requests went out, oldest first
        self._sent: deque[float] = deque(maxlen=rate)
        self._lock = threading.Lock()

    def try_acquire(self) -> float:
        """Take a place now (0.0), or say how many seconds until one is free."""
        with self._lock:
            now = time.monotonic()
            if len(self._sent) == self.rate and self._sent[0] + self.window > now:
                return self._sent[0] + self.window - now
            self._sent.append(now)
            return 0.0

    async def wait(self) -> None:
        while (delay := self.try_acquire()) > 0:
            await asyncio.sleep(delay)
        shared = self.shared
        if shared is not None:  # distributed mode: the other processes on this token too
            try:
                delay = await asyncio.to_thread(shared)
            except Exception as exc:  # the store is down: this process's own limit holds
                log.warning("cannot reserve the bot token's slot in the store: %s", exc)
                return
            if delay > 0:
                await asyncio.sleep(delay)

    #: in distributed mode: reserves this token's next slot among all processes (seconds to
    #: wait), set by :meth:`TelegramAdapter.bind`
    shared: Callable[[], float] | None = None


def reserve_slot(store: Any, key: str, *, gap: timedelta,
                 now: datetime | None = None) -> datetime:
    """Take a bot token's next request slot, kept in PostgreSQL (a row ``token:<key>`` of
    ``channel_state``): one atomic upsert, so every worker on every machine gets its own slot,
    ``gap`` after the one before. Returns when the slot starts."""
    from sqlalchemy import func, literal
    from sqlalchemy.dialects.postgresql import insert

    from distributor.store.models import ChannelState, UTCDateTime

    now = now or datetime.now(UTC)
    start = func.greatest(ChannelState.next_send_at, literal(now, UTCDateTime()))
    stmt = insert(ChannelState).values(channel=f"token:{key}", next_send_at=now + gap)
    stmt = stmt.on_conflict_do_update(index_elements=[ChannelState.channel],
                                      set_={"next_send_at": start + gap})
    with store.session() as session:
        end = session.execute(stmt.returning(ChannelState.next_send_at)).scalar_one()
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return end - gap


def store_slots(store: Any, key: str, rate: int = TOKEN_RATE,
                window: float = TOKEN_WINDOW) -> Callable[[], float]:
    """Distributed mode's share of Telegram's per-token limit: requests ``window / rate``
    apart across all processes; the function reserves a slot and says how long to wait."""
    gap = timedelta(seconds=window / rate)

    def reserve() -> float:
        now = datetime.now(UTC)
        return max(0.0, (reserve_slot(store, key, gap=gap, now=now) - now).total_seconds())

    return reserve


_LIMITERS: dict[str, TokenLimiter] = {}
_STATE_LOCK = threading.Lock()


def token_limiter(key: str) -> TokenLimiter:
    """The one limiter of a bot token (see :func:`credential_key`) in this process."""
    with _STATE_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = TokenLimiter()
        return limiter


@dataclass
class _BadToken:
    message: str
    at: float


#: tokens Telegram refused: credential key -> the message every channel on it gets
_BAD_TOKENS: dict[str, _BadToken] = {}
#: chats under flood control: (credential key, chat) -> monotonic time the wait ends
_FLOOD_UNTIL: dict[tuple[str, str], float] = {}
#: chats that moved: (credential key, configured chat) -> the new chat id
_MIGRATED: dict[tuple[str, str], int] = {}
#: message ids this process posted, per chat id: never mistaken for a lost post
_POSTED: dict[int, set[int]] = {}
#: when this process last tried to send a text: (chat, fingerprint) -> wall-clock time
_ATTEMPTS: dict[tuple[str, str], float] = {}
#: how many posts and attempts each of those remembers (updates are kept a day anyway)
_REMEMBER = 5000
#: credential keys whose updates a bot of this process is polling right now
_POLLING: dict[str, int] = {}
#: when this process last read a token's updates (monotonic): one read a second is enough
_LAST_READ: dict[str, float] = {}
READ_EVERY = 1.0
#: every live adapter, to name the channels that share a token
_ADAPTERS: weakref.WeakSet[TelegramAdapter] = weakref.WeakSet()


def forget_token_state() -> None:
    """Drop everything remembered about tokens and chats (tests; a reloaded configuration)."""
    with _STATE_LOCK:
        for table in (_LIMITERS, _BAD_TOKENS, _FLOOD_UNTIL, _MIGRATED, _POSTED, _ATTEMPTS,
                      _LAST_READ):
            table.clear()
    CHANNEL_POSTS.clear()


@contextmanager
def polling(key: str) -> Iterator[None]:
    """Declare that a bot of this process long-polls the updates of ``key`` (the editor bot):
    reconciliation then reads the posts it records instead of calling getUpdates itself, which
    would end the poller's request with 409 Conflict (Telegram allows one getUpdates at a
    time) and could confirm updates the poller has not read yet."""
    with _STATE_LOCK:
        _POLLING[key] = _POLLING.get(key, 0) + 1
    try:
        yield
    finally:
        with _STATE_LOCK:
            _POLLING[key] -= 1
            if not _POLLING[key]:
                del _POLLING[key]


def is_polled(key: str) -> bool:
    return _POLLING.get(key, 0) > 0


# --------------------------------------------------------------------------- channel posts


@dataclass(frozen=True)
class SeenPost:
    """A channel post as an update showed it."""

    chat_id: int
    message_id: int
    date: float
    text: str
    links: frozenset[str]


def _squash(text: str) -> str:
    return " ".join(text.split())


_HREF = re.compile(r"""<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


class ChannelPosts:
    """The channel posts this process has seen in updates, newest last, per chat."""

    def __init__(self, per_chat: int = 1000):
        self.per_chat = per_chat
        self._posts: dict[int, deque[SeenPost]] = {}
        self._names: dict[str, int] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._posts.clear()
            self._names.clear()

    def add(self, message: TelegramMessage) -> SeenPost:
        text = message.text if message.text is not None else (message.caption or "")
        entities = message.entities or message.caption_entities or ()
        links = set()
        for entity in entities:
            if entity.type == MessageEntity.TEXT_LINK and entity.url:
                links.add(entity.url)
            elif entity.type == MessageEntity.URL:
                links.add(message.parse_entity(entity) if message.text is not None
                          else message.parse_caption_entity(entity))
        preview = getattr(message, "link_preview_options", None)
        if preview is not None and preview.url:
            links.add(preview.url)
        post = SeenPost(chat_id=message.chat.id, message_id=message.message_id,
                        date=message.date.timestamp(), text=text, links=frozenset(links))
        with self._lock:
            posts = self._posts.setdefault(post.chat_id, deque(maxlen=self.per_chat))
            if all(p.message_id != post.message_id for p in posts):
                posts.append(post)
            if message.chat.username:
                self._names[f"@{message.chat.username}".lower()] = post.chat_id
        return post

    def chat_id(self, chat: str | int) -> int | None:
        key = str(chat)
        if key.lstrip("-").isdigit():
            return int(key)
        with self._lock:
            return self._names.get(key.lower())

    def find(self, chat: str | int, message: Message, *, since: float,
             exclude: Iterable[int] = ()) -> SeenPost | None:
        """The newest post in ``chat`` since ``since`` that is ``message`` (same visible text,
        and one of its links; a text cut by Telegram still matches on its start and a link)."""
        chat_id = self.chat_id(chat)
        if chat_id is None:
            return None
        expected, links = _expected(message)
        skip = set(exclude)
        with self._lock:
            posts = list(self._posts.get(chat_id, ()))
        for post in reversed(posts):
            if post.message_id in skip or post.date < since:
                continue
            seen = _squash(post.text)
            shares_link = bool(links & post.links) or any(link in seen for link in links)
            if seen == expected and (shares_link or not links):
                return post
            if shares_link and len(expected) >= 40 and seen[:40] == expected[:40]:
                return post
        return None


def _expected(message: Message) -> tuple[str, set[str]]:
    """The text readers see for a rendered message, and the links it carries."""
    from distributor.render.telegram import visible_text

    raw = message.get("caption" if message.get("method") == "sendPhoto" else "text") or ""
    raw = str(raw)
    text = visible_text(raw) if str(message.get("parse_mode") or "").lower() == "html" else raw
    links = {html.unescape(a or b) for a, b in _HREF.findall(raw)}
    preview = message.get("link_preview_options")
    if isinstance(preview, dict) and isinstance(preview.get("url"), str):
        links.add(preview["url"])
    return _squash(text), {link for link in links if link}


def _fingerprint(message: Message) -> str:
    text, _ = _expected(message)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


#: channel posts seen by this process (the editor bot records the ones it polls)
CHANNEL_POSTS = ChannelPosts()


def remember_channel_post(message: TelegramMessage) -> None:
    """Record a ``channel_post`` update's message (called by the editor bot)."""
    CHANNEL_POSTS.add(message)


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
#: BadRequest descriptions that mean the renderer produced something Telegram cannot take
#: of those, the ones where Telegram could not fetch (or use what it fetched from) the URL:
#: this process downloads the image and uploads it instead
_FETCH_PROBLEMS = ("http url", "failed to get http url content",
                   "wrong type of the web page content", "url host is empty",
                   "webpage_curl_failed", "webpage_media_empty")
#: Telegram takes photos up to 10 MB by upload
_MAX_PHOTO_BYTES = 10 * 1024 * 1024
_RENDERING_PROBLEMS = ("can't parse entities", "message is too long", "caption is too long",
                       "message text is empty", "text must be non-empty", "unsupported parse_mode")
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
    #: the photo's bytes, uploaded instead of its URL (Telegram could not fetch the URL)
    upload: bytes | None = None

    async def call(self, bot: Bot, chat_id: str | int) -> TelegramMessage:
        if self.method == "sendPhoto":
            assert self.photo is not None
            photo: str | InputFile = self.photo if self.upload is None else InputFile(
                self.upload, filename=_upload_name(self.photo, self.upload), attach=False)
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

    def uploading(self, data: bytes) -> _Outgoing:
        """The same post with the photo's bytes uploaded."""
        return _Outgoing("sendPhoto", self.text, self.parse_mode, photo=self.photo,
                         disable_notification=self.disable_notification, extra=dict(self.extra),
                         upload=data)

    def without_photo(self) -> _Outgoing:
        """The caption as a text message (the link in it still gets a preview)."""
        return _Outgoing("sendMessage", self.text, self.parse_mode,
                         link_preview_options=self.link_preview_options,
                         disable_notification=self.disable_notification, extra=dict(self.extra))


#: image types Telegram takes as a photo, by their first bytes
_IMAGE_MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"),
                (b"GIF89a", "gif"), (b"BM", "bmp"))


def _image_kind(data: bytes) -> str | None:
    """"jpg", "png", "gif", "webp" or "bmp" for an image Telegram takes as a photo, else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in _IMAGE_MAGIC if data.startswith(magic)), None)


def _upload_name(url: str, data: bytes) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", url.rsplit("/", 1)[-1].split("?")[0].rsplit(".", 1)[0])
    return f"{stem.strip('-')[:60] or 'photo'}.{_image_kind(data) or 'jpg'}"


async def download_photo(url: str, *, timeout: float) -> bytes:
    """The image at ``url`` (http(s), at most 10 MB, JPEG/PNG/GIF/WebP/BMP).
    Raises ValueError or httpx.HTTPError saying why not."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("not an http(s) URL")
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True, headers={
            "User-Agent": "distributor (+photo for a Telegram post)"}) as client, \
            client.stream("GET", url) as answer:
        answer.raise_for_status()
        declared = answer.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > _MAX_PHOTO_BYTES:
            raise ValueError(f"{declared} bytes; Telegram takes photos up to 10 MB")
        data = b""
        async for chunk in answer.aiter_bytes():
            data += chunk
            if len(data) > _MAX_PHOTO_BYTES:
                raise ValueError("larger than 10 MB, the most Telegram takes for a photo")
    if _image_kind(data) is None:
        kind = answer.headers.get("content-type", "unknown type")
        raise ValueError(f"not an image Telegram takes (JPEG, PNG, GIF, WebP, BMP): {kind}")
    return data


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


def _photo_refused(result: TelegramMessage | _Failure) -> str | None:
    """Telegram's description when ``result`` is a refusal of the photo (nothing posted)."""
    if not isinstance(result, _Failure) or not isinstance(result.error, BadRequest):
        return None
    answer = result.answer
    description = (answer.description if answer and answer.description else None) \
        or result.error.message
    return description if any(p in description.lower() for p in _PHOTO_PROBLEMS) else None


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


def can_migrate(chat_id: str | int) -> bool:
    """True for a basic group's id (negative, without the -100 of supergroups and channels):
    the only kind of chat Telegram moves (to a supergroup, which never moves again)."""
    text = str(chat_id).strip()
    return text.startswith("-") and text[1:].isdigit() and not text.startswith("-100")


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
        #: the runtime whose store records where Telegram moved the chat (see :meth:`bind`)
        self._rt: Runtime | None = None
        self._move_loaded = False
        #: the time quiet hours are judged by (tests set a fixed clock)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._bot: Bot | None = None
        self._observer: Bot | None = None
        self._lock = asyncio.Lock()
        self._quiet = parse_quiet_hours(self.config.quiet_hours) \
            if self.config.quiet_hours else None
        #: names this adapter's bot token (on its Bot API server) without revealing it: a
        #: sha256 prefix. Channels with the same key share the token's pacing, its flood holds
        #: and its fate when the token is invalid (the dispatcher pauses them all)
        self.credential_key: str = credential_key(self._token, self.config.api_base_url)
        self._observer_key = credential_key(self.config.observer_token.get_secret_value(),
                                            self.config.api_base_url) \
            if self.config.observer_token else None
        #: where a consuming getUpdates of each token (channel's, observer's) continues
        self._offsets: dict[str, int] = {}
        _ADAPTERS.add(self)
        secrets = [self._token]
        if self.config.observer_token:
            secrets.append(self.config.observer_token.get_secret_value())
        _guard_logs(secrets)

    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        from distributor.render.telegram import render_telegram

        return render_telegram(article, ctx)

    # -- the chat Telegram moved (kept in the store) -----------------------------------------
    def bind(self, rt: Runtime) -> None:
        """Give the adapter the runtime whose store keeps where Telegram moved the chat
        (``channel_state.moved_to``), so a restart posts straight to the new chat."""
        self._rt = rt
        self._move_loaded = False
        if rt.config.execution == "distributed" and rt.store.engine.dialect.name == "postgresql":
            limiter = token_limiter(self.credential_key)
            if limiter.shared is None:
                limiter.shared = store_slots(rt.store, self.credential_key)

    async def _load_move(self) -> None:
        """Once per adapter: follow a move recorded by an earlier process."""
        if self._move_loaded or self._rt is None:
            return
        self._move_loaded = True
        try:
            await asyncio.to_thread(self._read_move, self._rt)
        except Exception as exc:  # the store is down: posting to the configured chat still
            log.warning("channel %s: cannot read where Telegram moved the chat (%s)",  # works
                        self.config.name, exc)

    def _read_move(self, rt: Runtime) -> None:
        """``channel_state.moved_to`` holds the bare new chat id (the dashboard links posts
        with it). It applies while chat_id still names a basic group, the only kind of chat
        Telegram moves; once chat_id names a supergroup, a channel or an @username (updated as
        the warning asked), the record has done its job and is dropped."""
        from distributor.store.models import ChannelState

        configured = str(self.config.chat_id)
        with rt.store.session() as session:
            state = session.get(ChannelState, self.config.name)
            moved = (state.moved_to or "").strip() if state is not None else ""
            if state is None or not moved:
                return
            if can_migrate(configured) and moved.lstrip("-").isdigit() and moved != configured:
                self.migrated_chat_id = int(moved)
                _MIGRATED[(self.credential_key, configured)] = int(moved)
                log.warning(
                    "channel %s posts to chat %s: Telegram moved chat %s there (a group became "
                    "a supergroup). Update channels.yaml: chat_id: \"%s\" for channel %s",
                    self.config.name, moved, configured, moved, self.config.name)
                return
            state.moved_to = None
            log.info("channel %s: chat_id is now %s; forgetting that Telegram moved the chat "
                     "to %s", self.config.name, configured, moved)

    async def _record_move(self, old: str, new_id: int) -> None:
        if self._rt is None:
            return
        rt = self._rt

        def write() -> None:
            from distributor.store.models import ChannelState

            with rt.store.session() as session:
                state = session.get(ChannelState, self.config.name) or \
                    ChannelState(channel=self.config.name)
                session.add(state)
                state.moved_to = str(new_id)

        try:
            await asyncio.to_thread(write)
        except Exception as exc:  # the post still goes to the new chat in this process
            log.warning("channel %s: cannot record in the store that chat %s moved to %s (%s); "
                        "a restart will ask Telegram again", self.config.name, old, new_id, exc)

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
        if self.migrated_chat_id is not None:
            return self.migrated_chat_id
        moved = _MIGRATED.get((self.credential_key, str(self.config.chat_id)))
        return moved if moved is not None else self.config.chat_id

    def channels_on_token(self) -> list[str]:
        """Names of the channels of this process that post with this adapter's token."""
        return sorted({a.config.name for a in self._siblings()} | {self.config.name})

    def _siblings(self) -> list[TelegramAdapter]:
        return [a for a in list(_ADAPTERS) if a.credential_key == self.credential_key]

    def _editors_on_token(self) -> bool:
        return any(a.config.editors for a in self._siblings())

    def _webhook_on_token(self) -> bool:
        """The token's editor bot receives updates by webhook: getUpdates would only answer
        409 Conflict, and the updates go to ``distributor serve``."""
        return any(a.config.editors and a.config.editor_bot == "webhook"
                   for a in self._siblings())

    def _new_bot(self, token: str | None = None) -> Bot:
        return new_bot(token or self._token, self._base_url, timeout=self.config.timeout)

    async def _ready(self) -> Bot:
        """The bot, created and initialized (getMe) once."""
        bad = _BAD_TOKENS.get(self.credential_key)
        if bad is not None and time.monotonic() - bad.at < BAD_TOKEN_RECHECK:
            raise PermanentError(bad.message, pause_channel=True)
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
                _BAD_TOKENS.pop(self.credential_key, None)
                return bot
            await bot.shutdown()
        # nothing was posted yet: a timeout here is not ambiguous
        raise self._error(failure, sent=False)

    async def _call(self, bot: Bot, out: _Outgoing) -> TelegramMessage | _Failure:
        """One post; once more at the new chat id if Telegram says the chat migrated (the new
        id is kept in memory and in the store, so later posts and a restart go straight
        there)."""
        failure: _Failure | None = None
        for _ in range(2):
            _LAST_ANSWER.set(None)
            try:
                return await out.call(bot, self.chat_id)
            except ChatMigrated as exc:
                failure = _Failure(exc, _LAST_ANSWER.get())
                if str(self.chat_id) == str(exc.new_chat_id):
                    break
                old = str(self.config.chat_id)
                log.warning(
                    "channel %s: Telegram moved chat %s to %s (a group became a supergroup); "
                    "posting there from now on. Update channels.yaml: chat_id: \"%s\" for "
                    "channel %s", self.config.name, self.chat_id, exc.new_chat_id,
                    exc.new_chat_id, self.config.name,
                )
                self.migrated_chat_id = exc.new_chat_id
                _MIGRATED[(self.credential_key, old)] = exc.new_chat_id
                await self._record_move(old, exc.new_chat_id)
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

    def _bad_token(self, status: int, description: str) -> PermanentError:
        """Remember that the token is invalid: every channel on it stops with this message."""
        hint = "" if status == 401 else f" (or api_base_url {self._base_url!r} is wrong)"
        names = self.channels_on_token()
        resume = " and ".join(f"`distributor channels resume {n}`" for n in names)
        message = (
            f"the bot token is invalid; check TELEGRAM_BOT_TOKEN{hint}. Telegram answered "
            f"{status} {description}. Channels on this token stop until it is fixed: "
            f"{', '.join(names)}; then run {resume}"
        )
        with _STATE_LOCK:
            known = _BAD_TOKENS.get(self.credential_key)
            _BAD_TOKENS[self.credential_key] = _BadToken(message, time.monotonic())
        if known is None:
            log.error("%s", _REDACTOR.redact(message))
        return PermanentError(message, pause_channel=True)

    def _translate(self, failure: _Failure, *, sent: bool) -> ChannelError:
        exc, answer = failure.error, failure.answer
        description = (answer.description if answer and answer.description else None) \
            or exc.message
        lowered = description.lower()
        chat = self.chat_id

        if isinstance(exc, RetryAfter):
            seconds = _retry_seconds(exc)
            _FLOOD_UNTIL[(self.credential_key, str(chat))] = time.monotonic() + seconds
            return TransientError(
                f"Telegram flood control: retry in {seconds:g} s ({description})",
                retry_after=seconds, channel_wide=True,
            )
        if isinstance(exc, InvalidToken):
            return self._bad_token(answer.status if answer else 401, description)
        if isinstance(exc, ChatMigrated):
            return PermanentError(
                f"Telegram says chat {chat} moved to {exc.new_chat_id} (a group became a "
                f"supergroup); set chat_id: {exc.new_chat_id} in the configuration"
            )
        if isinstance(exc, Forbidden) or any(p in lowered for p in _RIGHTS_PROBLEMS):
            return PermanentError(
                f"Telegram refused the message: {description}. Add the bot as an administrator "
                f"of the channel with the right to post messages, and check chat_id ({chat!r}: "
                "a public channel's @username or a private one's numeric id, -100...)"
            )
        if isinstance(exc, BadRequest):  # (a subclass of NetworkError: test it first)
            if any(p in lowered for p in _RENDERING_PROBLEMS):
                log.error(
                    "Telegram refused a message rendered for channel %s: %s. This is a rendering "
                    "bug (distributor's renderer or the channel's template): please report it "
                    "with the article", self.config.name, description)
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
    def quiet_now(self) -> bool:
        """True inside the channel's quiet hours (site timezone)."""
        if self._quiet is None:
            return False
        tz = self.site.tz if self.site is not None else UTC
        return in_window(self.clock().astimezone(tz).time().replace(tzinfo=None), self._quiet)

    async def send(self, message: Message, ctx: SendContext) -> str:
        """Post one message to the channel; return Telegram's message id. (Channel posts of
        one delivery are not chained: ``ctx.previous_id`` is not used.)"""
        out = _outgoing(message)
        if self.quiet_now():
            out.disable_notification = True
        await self._load_move()
        bot = await self._ready()
        flood = _FLOOD_UNTIL.get((self.credential_key, str(self.chat_id)), 0.0) - time.monotonic()
        if flood > 0:  # Telegram said to wait: not one request to this chat before it ends
            raise TransientError(f"Telegram flood control: {flood:.1f} s left to wait",
                                 retry_after=flood, channel_wide=True)
        started = time.time()
        _ATTEMPTS.pop((str(self.chat_id), _fingerprint(message)), None)
        _ATTEMPTS[(str(self.chat_id), _fingerprint(message))] = started
        while len(_ATTEMPTS) > _REMEMBER:
            del _ATTEMPTS[next(iter(_ATTEMPTS))]
        result = await self._call(bot, out)
        if out.method == "sendPhoto" and _photo_refused(result) is not None:
            result = await self._photo_fallback(bot, out, result)
        if isinstance(result, _Failure):
            error = self._error(result, sent=True)
            if isinstance(error, AmbiguousError):
                found = await self._look_for(message, since=started - 60,
                                             wait=self.config.reconcile_wait)
                if found is not None:
                    log.warning("Telegram did not answer, but post %s in %s is this message: "
                                "it was published", found.message_id, self.chat_id)
                    return str(found.message_id)
                error.message += (
                    "; it is not among the channel posts Telegram showed"
                    + ("" if self.config.observer_token else
                       " (set observer_token to a second bot that administers the channel, so "
                       "such posts can be found)"))
                error.args = (error.message,)
            raise error
        posted = _POSTED.setdefault(result.chat.id, set())
        posted.add(result.message_id)
        if len(posted) > _REMEMBER:
            posted.discard(min(posted))
        return str(result.message_id)

    async def _photo_fallback(self, bot: Bot, out: _Outgoing,
                              result: TelegramMessage | _Failure) -> TelegramMessage | _Failure:
        """Telegram refused the photo (nothing was posted): when it could not fetch the URL,
        download the image here and upload it; if the image fails entirely, post the text."""
        description = _photo_refused(result) or ""
        name = self.config.name
        if out.photo and any(p in description.lower() for p in _FETCH_PROBLEMS):
            try:
                data = await download_photo(out.photo, timeout=self.config.timeout)
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("channel %s: Telegram could not fetch the photo %s (%s), nor could "
                            "distributor (%s)", name, out.photo, description,
                            _REDACTOR.redact(str(exc) or type(exc).__name__))
            else:
                log.info("channel %s: Telegram could not fetch the photo %s (%s); uploading "
                         "it (%d bytes)", name, out.photo, description, len(data))
                result = await self._call(bot, out.uploading(data))
                description = _photo_refused(result) or ""
                if not description:
                    return result
        if not out.text.strip():
            return result  # a photo without a caption has no text to fall back to
        log.warning("channel %s: Telegram could not use the photo %s (%s); posting the text "
                    "without it", name, out.photo, description)
        return await self._call(bot, out.without_photo())

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        """Find the post of a delivery whose outcome is unknown among the channel posts Telegram
        showed this process (the editor bot's updates, or getUpdates of the observer bot or of
        the channel's bot); its message id, else None.

        Telegram renders one message per delivery; a delivery with every part recorded is
        answered by its first id.
        """
        if len(sent_ids) >= len(messages):
            return sent_ids[0] if sent_ids else None
        if len(messages) - len(sent_ids) != 1:
            return None
        await self._load_move()
        message = messages[len(sent_ids)]
        attempted = _ATTEMPTS.get((str(self.chat_id), _fingerprint(message)))
        # updates are kept 24 hours: a post older than that cannot be shown any more
        since = attempted - 60 if attempted is not None else time.time() - 86400
        found = await self._look_for(message, since=since, wait=0.0,
                                     exclude={int(i) for i in sent_ids if i.isdigit()})
        return str(found.message_id) if found is not None else None

    async def _look_for(self, message: Message, *, since: float, wait: float,
                        exclude: Iterable[int] = ()) -> SeenPost | None:
        """The post of ``message`` among the channel posts seen, reading new updates until
        ``wait`` seconds have passed."""
        deadline = time.monotonic() + wait
        while True:
            chat_id = CHANNEL_POSTS.chat_id(self.chat_id)
            skip = set(exclude) | (_POSTED.get(chat_id, set()) if chat_id is not None else set())
            found = CHANNEL_POSTS.find(self.chat_id, message, since=since, exclude=skip)
            if found is not None:
                return found
            await self._read_updates()
            chat_id = CHANNEL_POSTS.chat_id(self.chat_id)
            skip |= _POSTED.get(chat_id, set()) if chat_id is not None else set()
            found = CHANNEL_POSTS.find(self.chat_id, message, since=since, exclude=skip)
            if found is not None or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(min(0.3, max(0.0, deadline - time.monotonic())))

    async def _read_updates(self) -> None:
        """Read the channel posts Telegram holds for the observer bot and the channel's bot,
        unless a bot of this process polls that token (then its updates arrive by themselves).

        The observer bot is ours alone: its updates are read and confirmed. The channel's bot
        may also serve editors (in this process or in ``distributor run`` elsewhere): then the
        updates are only looked at, never confirmed (no ``offset``), and the update types asked
        for are exactly the editor bot's, so a look never hides an editor's message from it.
        A webhook on the token (getUpdates answers 409) means no look at all.
        """
        sources: list[tuple[str, bool, tuple[str, ...]]] = []
        if self._observer_key is not None and not is_polled(self._observer_key):
            sources.append((self._observer_key, True, ("channel_post",)))
        if not is_polled(self.credential_key) and not self._webhook_on_token():
            editors = self._editors_on_token()
            sources.append((self.credential_key, not editors,
                            EDITOR_UPDATES if editors else ("channel_post",)))
        for key, consume, allowed in sources:
            if time.monotonic() - _LAST_READ.get(key, -READ_EVERY) < READ_EVERY:
                continue  # read a moment ago (e.g. for another delivery of this pass)
            _LAST_READ[key] = time.monotonic()
            try:
                bot = await self._observer_bot() if key == self._observer_key \
                    else await self._ready()
                await self._peek(bot, key, consume=consume, allowed=allowed)
            except (TelegramError, ChannelError) as exc:
                log.info("cannot read the updates of channel %s's %s bot: %s",
                         self.config.name, "observer" if key == self._observer_key else "",
                         _REDACTOR.redact(str(exc)))

    async def _peek(self, bot: Bot, key: str, *, consume: bool,
                    allowed: tuple[str, ...]) -> None:
        offset = self._offsets.get(key) if consume else None
        for _ in range(10):  # at most 1000 updates a look
            updates = await bot.get_updates(offset=offset, timeout=0, limit=100,
                                            allowed_updates=list(allowed))
            for update in updates:
                if update.channel_post is not None:
                    CHANNEL_POSTS.add(update.channel_post)
            if not consume or not updates:
                return
            offset = updates[-1].update_id + 1
            self._offsets[key] = offset

    async def _observer_bot(self) -> Bot:
        assert self.config.observer_token is not None
        if self._observer is None:
            bot = self._new_bot(self.config.observer_token.get_secret_value())
            await bot.initialize()
            self._observer = bot
        return self._observer

    def outbox_files(self, messages: list[Message]) -> dict[str, bytes]:
        """As the base, but the readable ``.txt`` shows the post as a person reads it: no
        tags, entities decoded, each link's address after its words."""
        files = super().outbox_files(messages)
        files[".txt"] = ("\n\n---\n\n".join(
            readable_text(str(m.get("caption") or m.get("text") or "")) for m in messages)
            + "\n").encode("utf-8")
        return files

    def post_url(self, remote_id: str, *, moved_to: str | None = None) -> str | None:
        """``t.me`` links exist for public channels (@name) and supergroups (-100...)."""
        if not remote_id.isdigit():
            return None
        chat = str(moved_to or self.config.chat_id or "")
        if chat.startswith("@") and re.fullmatch(r"@\w{4,64}", chat):
            return f"https://t.me/{chat[1:]}/{remote_id}"
        if chat.startswith("-100") and chat[4:].isdigit():
            return f"https://t.me/c/{chat[4:]}/{remote_id}"
        return None

    async def check_online(self) -> str:
        """getMe, getChat and getChatMember: "@bot can post to <chat title>"."""
        await self._load_move()
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
            observer, self._observer = self._observer, None
        for each in (bot, observer):
            if each is not None:
                await each.shutdown()


def new_bot(token: str, api_base_url: str, *, timeout: float = 20.0,
            poll_timeout: float = 0.0) -> Bot:
    """A python-telegram-bot ``Bot`` for ``token`` on ``api_base_url``, with this module's
    transport: the token's pacing, Telegram's exact error descriptions, a redacted token."""
    base = api_base_url.rstrip("/")
    limiter = token_limiter(credential_key(token, base))

    def request(read_timeout: float) -> _Request:
        return _Request(connection_pool_size=8, connect_timeout=timeout,
                        read_timeout=read_timeout, write_timeout=timeout,
                        pool_timeout=timeout, media_write_timeout=max(timeout, 20.0),
                        limiter=limiter)

    _guard_logs([token])
    # PTB appends the token to base_url: requests go to {api_base_url}/bot{token}/{method}
    bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
              request=request(timeout), get_updates_request=request(timeout + poll_timeout))
    _guard_logs([token])  # httpx/httpcore may have created loggers just now
    return bot


def bot_requests(token: str, api_base_url: str, *, timeout: float = 20.0,
                 poll_timeout: float = 10.0) -> tuple[HTTPXRequest, HTTPXRequest]:
    """(request, get_updates_request) for an ``Application`` of ``token`` (the editor bot)."""
    limiter = token_limiter(credential_key(token, api_base_url))
    _guard_logs([token])

    def request(read_timeout: float, pool: int) -> _Request:
        return _Request(connection_pool_size=pool, connect_timeout=timeout,
                        read_timeout=read_timeout, write_timeout=timeout,
                        pool_timeout=timeout, media_write_timeout=max(timeout, 20.0),
                        limiter=limiter)

    return request(timeout, 8), request(timeout + poll_timeout, 1)


async def send_rendered(bot: Bot, chat_id: str | int, message: Message) -> TelegramMessage:
    """Send one message as :func:`~distributor.render.telegram.render_telegram` made it (the
    editor bot's previews); a photo Telegram cannot use falls back to the text.
    Raises :class:`PermanentError` for a malformed message, else python-telegram-bot's errors."""
    out = _outgoing(message)
    try:
        return await out.call(bot, chat_id)
    except BadRequest as exc:
        if out.method != "sendPhoto" or not any(p in exc.message.lower()
                                                for p in _PHOTO_PROBLEMS):
            raise
    return await out.without_photo().call(bot, chat_id)


def redact(text: str) -> str:
    """``text`` without any known secret or anything shaped like a bot token."""
    return _REDACTOR.redact(text)
