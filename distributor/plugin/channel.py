"""The adapter interface every channel implements, and its three error kinds.

An adapter declares its config model and its limits, renders an article into messages through
``distributor.render`` (pure functions) and sends one already-rendered message at a time. It
knows nothing about the ledger: the dispatcher (``distributor.engine.dispatcher``) owns
retries, pacing and state. Third-party adapters register under the entry-point group
``distributor.channels``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import ClassVar

from distributor.articles import Article
from distributor.config import ChannelConfig, SiteConfig
from distributor.render.context import Message, RenderContext


class ChannelError(Exception):
    """Base of the three outcomes a failed send can have."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransientError(ChannelError):
    """Nothing was published; trying again later may work (429, 5xx, connection refused)."""

    def __init__(self, message: str, retry_after: float | None = None, *,
                 channel_wide: bool = True):
        super().__init__(message)
        self.retry_after = retry_after
        #: the whole channel waits (rate limits, outages), keeping the order of queued posts
        self.channel_wide = channel_wide


class PermanentError(ChannelError):
    """Nothing was published and trying again will not help (bad request, no rights)."""

    def __init__(self, message: str, *, pause_channel: bool = False):
        super().__init__(message)
        #: the channel itself is unusable (bad credentials): stop sending on it
        self.pause_channel = pause_channel


class AmbiguousError(ChannelError):
    """The request may have reached the platform, but no answer came: the outcome is unknown."""


class Adapter:
    """Base class of channel adapters.

    Subclasses set ``type_name`` and ``config_model``, implement :meth:`render` and
    :meth:`send`, and may declare limits.
    """

    type_name: ClassVar[str] = ""
    config_model: ClassVar[type[ChannelConfig]] = ChannelConfig
    #: longest text one message may carry, as the platform counts it (None: no limit)
    body_maxlen: ClassVar[int | None] = None
    #: most messages a minute on one channel (None: no pacing)
    rate_per_minute: ClassVar[float | None] = None
    #: True for adapters that can send a digest (a list of articles in one message)
    supports_digest: ClassVar[bool] = False

    #: the site (name, url, language, timezone); set by the runtime after construction
    site: SiteConfig | None = None

    def __init__(self, config: ChannelConfig):
        self.config = config

    #: channels whose adapters have the same key share credentials (one bot token): an error
    #: that pauses one (an invalid token) pauses them all. None: not shared.
    credential_key: str | None = None

    # -- rendering (pure) -------------------------------------------------------------------
    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        raise NotImplementedError

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        raise NotImplementedError(f"{self.type_name} channels do not send digests")

    # -- sending ----------------------------------------------------------------------------
    async def send(self, message: Message, *, previous_id: str | None = None) -> str:
        """Publish one message; return the platform's id for it.

        ``previous_id`` is the remote id of the message before it in the same delivery (the
        previous post of a thread). Raise :class:`TransientError`, :class:`PermanentError`
        or :class:`AmbiguousError`; anything else is treated as transient.
        """
        raise NotImplementedError

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        """For a delivery whose outcome is unknown: the remote id if the platform has the
        message, else None (the delivery stays ``unknown`` for an editor)."""
        return None

    def hold_until(self) -> datetime | None:
        """After a successful send: when the platform said this account may not post again
        before a time (its allowance is used up), that time; the dispatcher holds the channel
        until then in the store, so every process knows without asking the platform."""
        return None

    def post_url(self, remote_id: str, *, moved_to: str | None = None) -> str | None:
        """The public address of a published post (``moved_to``: where the platform moved the
        channel, as recorded); None when the platform gives posts no address."""
        return None

    async def check_online(self) -> str:
        """Verify credentials with the platform; return a short description (the account)."""
        return "no online check for this channel type"

    async def close(self) -> None:
        return None

    # -- the outbox (dry runs) --------------------------------------------------------------
    def outbox_files(self, messages: list[Message]) -> dict[str, bytes]:
        """Files (suffix -> content) that show these messages in ``outbox/<channel>/``."""
        readable = "\n\n---\n\n".join(message_text(m) for m in messages)
        return {
            ".json": json.dumps(messages, ensure_ascii=False, indent=2).encode("utf-8") + b"\n",
            ".txt": readable.encode("utf-8") + b"\n",
        }


def message_text(message: Message) -> str:
    """The readable text of a message, whatever the channel."""
    for key in ("text", "caption"):
        if isinstance(message.get(key), str):
            return str(message[key])
    return json.dumps(message, ensure_ascii=False, indent=2)
