"""Telegram's answers mapped onto the three error kinds of :mod:`distributor.plugin`:

* flood control (429 ``retry_after``) and answers that never left this machine (connection
  refused, connect/pool timeouts, 5xx answers) are *transient*;
* a refusal by Telegram (400 with its description, 403, an invalid token) is *permanent*;
* a request that was sent but not answered (read timeout, a connection broken mid-answer) is
  *ambiguous*: the post may exist.

Flood control and an invalid token are also remembered in the token's state (every channel on
the token waits, or stops, without another request).
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus

import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from distributor.channels.telegram.tokens import BadToken, TokenState
from distributor.channels.telegram.transport import REDACTOR, Answer, Failure
from distributor.plugin import (
    AmbiguousError,
    ChannelError,
    PermanentError,
    TransientError,
)

log = logging.getLogger(__name__)
# RetryAfter warns on creation that retry_after becomes a timedelta; retry_seconds takes both
warnings.filterwarnings("ignore", message=r"(?s).*`retry_after`", category=PTBDeprecationWarning)

#: BadRequest descriptions that mean the renderer produced something Telegram cannot take
_RENDERING_PROBLEMS = ("can't parse entities", "message is too long", "caption is too long",
                       "message text is empty", "text must be non-empty", "unsupported parse_mode")
_RIGHTS_PROBLEMS = ("chat not found", "need administrator rights", "not enough rights",
                    "have no rights to send", "chat_write_forbidden", "chat_admin_required")


@dataclass
class Sender:
    """Who made the failed request: what the error messages name, where holds are kept."""

    channel: str
    chat: str | int
    base_url: str
    timeout: float
    state: TokenState
    #: the configuration file the channel was read from (``env.config_file``), when known
    config_file: str | None = None

    def channels_on_token(self) -> list[str]:
        """Names of the channels of this process that post with this token."""
        return sorted({c.name for c in self.state.channels()} | {self.channel})


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int will become a timedelta
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def channel_error(failure: Failure, sender: Sender, *, sent: bool) -> ChannelError:
    """The channel error for a failed call; ``sent``: the call may have published. Its message
    and its chain never show the token."""
    error = translate(failure, sender, sent=sent)
    error.message = REDACTOR.redact(error.message)
    error.args = (error.message,)
    if failure.answer is not None and failure.answer.not_api is not None:
        error.__suppress_context__ = True  # its chain holds nothing but the page, whole
    elif REDACTOR.clean_chain(failure.error):
        error.__cause__ = failure.error
    else:
        error.__suppress_context__ = True
    return error


def bad_token(sender: Sender, status: int, description: str) -> PermanentError:
    """Remember that the token is invalid: every channel on it stops with this message (which
    whoever made the request reports: a send, a check, a correction). It says what (Telegram
    refused the token), where (the channels on it, the file) and what to do, in one sentence
    without parentheses (whoever reports it wraps it in theirs) and without how to resume a
    paused channel (each place says its own way: a command, the dashboard's Channels page)."""
    names = sender.channels_on_token()
    # every channel on the token stops with this same message: it names them all
    whose, its, they = (f"channel {names[0]}", "its", "variable it names") if len(names) == 1 \
        else (f"channels {', '.join(names[:-1])} and {names[-1]}", "their",
              "variables they name")
    where = f"in {sender.config_file}" if sender.config_file else "in the configuration"
    hint = "" if status == 401 else f"; or api_base_url {sender.base_url!r} is wrong"
    message = (
        f"Telegram refused the bot token of {whose} with {status} {description}: check "
        f"{its} `token:` {where}, or the ${{...}} {they}, against the token "
        f"@BotFather gave the bot{hint}"
    )
    sender.state.bad = BadToken(message, time.monotonic())
    return PermanentError(message, pause_channel=True)


def not_the_api(answer: Answer, sender: Sender, *, sent: bool) -> ChannelError:
    """A server that is not the Bot API answered (a web server at a wrong api_base_url, a
    proxy's error page): what it answered, never the page itself. A 5xx (but 501 and 505) or a
    429 is an outage on the way (transient); else api_base_url is wrong (the channel pauses).
    """
    status = answer.status
    try:
        phrase = f" {HTTPStatus(status).phrase}"
    except ValueError:
        phrase = ""
    said = f"{sender.base_url} answered HTTP {status}{phrase} with {answer.not_api}"
    if status == 429 or (status >= 500 and status not in (501, 505)):
        return TransientError(f"Telegram is unavailable: {said}", channel_wide=True)
    if sent and 200 <= status < 300:
        return AmbiguousError(f"{said}, not the Telegram Bot API's answer: the message may "
                              "have been posted; check api_base_url")
    return PermanentError(f"{said}, not the Telegram Bot API; check api_base_url",
                          pause_channel=True)


def translate(failure: Failure, sender: Sender, *, sent: bool) -> ChannelError:
    exc, answer = failure.error, failure.answer
    if answer is not None and answer.not_api is not None:
        return not_the_api(answer, sender, sent=sent)
    description = failure.description
    lowered = description.lower()
    chat = sender.chat

    if isinstance(exc, RetryAfter):
        seconds = retry_seconds(exc)
        sender.state.hold(chat, seconds)
        return TransientError(
            f"Telegram flood control: retry in {seconds:g} s ({description})",
            retry_after=seconds, channel_wide=True,
        )
    if isinstance(exc, InvalidToken):
        return bad_token(sender, answer.status if answer else 401, description)
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
                "with the article", sender.channel, description)
        return PermanentError(f"Telegram refused the message: {description}")
    if isinstance(exc, TimedOut):
        cause = exc.__cause__
        if not sent or isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout):
            return TransientError(f"Telegram could not be reached in time ({description})",
                                  channel_wide=True)
        return AmbiguousError(
            f"no answer from Telegram within {sender.timeout:g} s: "
            "the message may have been posted"
        )
    if isinstance(exc, NetworkError):
        if answer is not None:  # Telegram (or a proxy) answered with an HTTP error
            if answer.status >= 500 or answer.status == 429:
                return TransientError(
                    f"Telegram is unavailable: {answer.status} {description}",
                    channel_wide=True,
                )
            return PermanentError(f"Telegram refused the message: {answer.status} {description}")
        cause = exc.__cause__
        if not sent or isinstance(
            cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
            | httpx.UnsupportedProtocol | httpx.ProxyError
        ):
            return TransientError(
                f"cannot reach Telegram at {sender.base_url}: {description}",
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
