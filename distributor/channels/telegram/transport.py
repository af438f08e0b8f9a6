"""The HTTP transport to the Bot API: python-telegram-bot's httpx request, remembering
Telegram's exact answer, pacing message requests by the token, never showing the token.

The bot token is part of every request URL (``{api_base_url}/bot{token}/{method}``), so this
module installs a logging filter on httpx, httpcore, python-telegram-bot and this package that
redacts it; the errors of this package never carry it (nor an exception that carries it).

A bot's HTTP clients are closed on every way out (:func:`started_bot`, :func:`close_bot`):
python-telegram-bot closes them only for a bot or an application that started.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from telegram import Bot
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from distributor.channels.telegram.pacing import TokenPacing
from distributor.channels.telegram.tokens import credential_key, token_state
from distributor.plugin import SecretFilter, tls_context

T = TypeVar("T")

# --------------------------------------------------------------------------- secrets in logs

#: a bot token as BotFather issues them: "<bot id>:<35 characters>"
_TOKEN_SHAPE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
#: loggers that see request URLs (httpx logs every request at INFO) or the token itself
_URL_LOGGERS = ("httpx", "httpcore", "telegram", "distributor.channels.telegram")

REDACTOR = SecretFilter(_URL_LOGGERS, patterns=[_TOKEN_SHAPE])
guard_logs = REDACTOR.guard


def redact(text: str) -> str:
    """``text`` without any known secret or anything shaped like a bot token."""
    return REDACTOR.redact(text)


# --------------------------------------------------------------------------- the raw answer

@dataclass(frozen=True)
class Answer:
    """What Telegram answered to the last request (PTB rewrites the description)."""

    status: int
    description: str | None
    parameters: dict[str, Any] = field(default_factory=dict)
    #: what the server answered instead of the Bot API's JSON object ("a web page": a web
    #: server at a wrong api_base_url, a proxy's error page), else None
    not_api: str | None = None


def not_the_api(payload: bytes) -> str | None:
    """What ``payload`` is when it is not a JSON object, as an error message names it (never
    its text, which may be a whole page); None for a JSON object."""
    if payload[:64].lstrip()[:1] == b"{":
        return None
    head = payload[:1024].lstrip().lower()
    if not head:
        return "an empty answer"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head or b"<body" in head:
        return "a web page"
    return "an answer that is not JSON"


#: set by _Request for the task that made the request (PTB awaits it in the same task)
LAST_ANSWER: ContextVar[Answer | None] = ContextVar("distributor_telegram_answer", default=None)
#: when the task's last message request left, its slot in the token's pace taken (time.time())
MESSAGE_LEFT_AT: ContextVar[float | None] = ContextVar("distributor_telegram_message_at",
                                                       default=None)


@dataclass
class Failure:
    """A request python-telegram-bot raised for, with what Telegram answered to it."""

    error: TelegramError
    answer: Answer | None

    @property
    def description(self) -> str:
        """Telegram's exact description, else python-telegram-bot's message."""
        answer = self.answer
        return (answer.description if answer and answer.description else None) \
            or self.error.message


async def attempt(call: Awaitable[T]) -> T | Failure:
    """The result of one Bot API call, or its failure with Telegram's exact answer."""
    LAST_ANSWER.set(None)
    try:
        return await call
    except TelegramError as exc:
        return Failure(exc, LAST_ANSWER.get())


#: Bot API methods that count as messages for Telegram's per-bot limit
_MESSAGE_METHODS = re.compile(r"(send|copy|forward)[A-Za-z]*|editMessage[A-Za-z]*")


#: an idle connection is dropped after this many seconds, before a server closes it: a post
#: written into a connection the server has just closed has an unknown outcome (ReadError)
KEEPALIVE_EXPIRY = 4.0


class _Request(HTTPXRequest):
    """PTB's httpx transport, remembering the status and Telegram's exact description, and
    pacing message requests by the token."""

    def __init__(self, *, pacing: TokenPacing | None = None, connection_pool_size: int = 1,
                 **kwargs: Any):
        super().__init__(connection_pool_size=connection_pool_size, **kwargs)
        self.pacing = pacing
        #: the bot's other request objects (its getUpdates one), closed with this one: PTB
        #: shows a bot's requests only through ``Bot.request`` (this one)
        self.siblings: tuple[HTTPXRequest, ...] = ()
        # a request takes its place in the token's pace only when a connection is free for it,
        # so requests queued for a connection cannot bunch up afterwards
        self._connections = asyncio.Semaphore(connection_pool_size)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        url = str(args[0] if args else kwargs.get("url", ""))
        async with self._connections:
            if _MESSAGE_METHODS.fullmatch(url.rsplit("/", 1)[-1]):
                if self.pacing is not None:
                    await self.pacing.wait()
                MESSAGE_LEFT_AT.set(time.time())
            return await self._answer(*args, **kwargs)

    async def _answer(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        LAST_ANSWER.set(None)
        status, payload = await super().do_request(*args, **kwargs)
        description: str | None = None
        parameters: dict[str, Any] = {}
        url = str(args[0] if args else kwargs.get("url", ""))
        other = None if "/file/bot" in url else not_the_api(payload)  # a file is no JSON
        if not 200 <= status < 300 and other is None:
            try:
                data = json.loads(payload.decode("utf-8", "replace"))
            except ValueError:
                data, other = None, "an answer that is not JSON"
            if isinstance(data, dict):
                if isinstance(data.get("description"), str):
                    description = data["description"]
                if isinstance(data.get("parameters"), dict):
                    parameters = data["parameters"]
        LAST_ANSWER.set(Answer(status, description, parameters, other))
        return status, payload


def _requests(token: str, api_base_url: str, timeout: float,
              poll_timeout: float, updates_pool: int) -> tuple[_Request, _Request]:
    pacing = token_state(credential_key(token, api_base_url.rstrip("/"))).pacing

    def request(read_timeout: float, pool: int) -> _Request:
        return _Request(connection_pool_size=pool, connect_timeout=timeout,
                        read_timeout=read_timeout, write_timeout=timeout,
                        pool_timeout=timeout, media_write_timeout=max(timeout, 20.0),
                        pacing=pacing, httpx_kwargs={
                            "verify": tls_context(),  # one per process, not per client
                            "limits": httpx.Limits(max_connections=pool,
                                                   keepalive_expiry=KEEPALIVE_EXPIRY)})

    guard_logs([token])
    general, updates = request(timeout, 8), request(timeout + poll_timeout, updates_pool)
    general.siblings = (updates,)
    return general, updates


def new_bot(token: str, api_base_url: str, *, timeout: float = 20.0,
            poll_timeout: float = 0.0) -> Bot:
    """A python-telegram-bot ``Bot`` for ``token`` on ``api_base_url``, with this module's
    transport: the token's pacing, Telegram's exact error descriptions, a redacted token."""
    base = api_base_url.rstrip("/")
    request, updates = _requests(token, base, timeout, poll_timeout, 8)
    # PTB appends the token to base_url: requests go to {api_base_url}/bot{token}/{method}
    bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
              request=request, get_updates_request=updates)
    guard_logs([token])  # httpx/httpcore may have created loggers just now
    return bot


def bot_requests(token: str, api_base_url: str, *, timeout: float = 20.0,
                 poll_timeout: float = 10.0) -> tuple[HTTPXRequest, HTTPXRequest]:
    """(request, get_updates_request) for an ``Application`` of ``token`` (the editor bot)."""
    return _requests(token, api_base_url, timeout, poll_timeout, 1)


# --------------------------------------------------------------------------- starting, closing

async def close_bot(bot: Bot) -> None:
    """Shut ``bot`` down and close its HTTP clients, whatever it got to.

    PTB's ``Bot.shutdown`` closes them only for a bot whose ``initialize()`` got that far, and
    ``Application.shutdown`` does nothing for an application whose ``initialize()`` failed
    (getMe answered 401 or 500): that answer's keep-alive connection would stay open for the
    life of the process. ``HTTPXRequest.shutdown`` is idempotent.
    """
    try:
        await bot.shutdown()
    finally:
        request = bot.request
        for each in (request, *getattr(request, "siblings", ())):
            await each.shutdown()


async def started_bot(token: str, api_base_url: str, *, timeout: float) -> Bot | Failure:
    """A new bot (:func:`new_bot`) that started (``initialize()``: getMe), or its failure.

    A bot that does not start, however (Telegram refused it, an exception, the caller
    cancelled), has its HTTP clients closed.
    """
    made = asyncio.ensure_future(  # its clients load the CA bundle: not in the loop
        asyncio.to_thread(new_bot, token, api_base_url, timeout=timeout))
    try:
        bot = await asyncio.shield(made)
    except asyncio.CancelledError:
        made.add_done_callback(_close_unwanted)
        raise
    try:
        result = await attempt(bot.initialize())
    except BaseException:
        await close_bot(bot)
        raise
    if isinstance(result, Failure):
        await close_bot(bot)
        return result
    return bot


#: closing the bots made for callers that were cancelled meanwhile
_CLOSING: set[asyncio.Task[None]] = set()


def _close_unwanted(made: asyncio.Future[Bot]) -> None:
    if made.cancelled() or made.exception() is not None:
        return
    closing = asyncio.ensure_future(close_bot(made.result()))
    _CLOSING.add(closing)
    closing.add_done_callback(_CLOSING.discard)
