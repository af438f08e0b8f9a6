"""The channel base class.

A channel declares its config model and its limits, renders an article into messages (pure
functions, no I/O) and sends one already-rendered message at a time. It knows nothing about
the ledger: the core owns retries, pacing and state, and hands every send a
:class:`~distributor.plugin.SendContext`. Channels register under the entry-point group
``distributor.channels``; the entry point's name is the ``type:`` in channels.yaml.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from distributor.articles import Article
from distributor.config import ChannelConfig, SiteConfig
from distributor.plugin.context import DigestContext, SendContext
from distributor.plugin.env import ChannelEnv
from distributor.plugin.errors import (  # noqa: F401  (the names' old home)
    AmbiguousError,
    ChannelError,
    PermanentError,
    TransientError,
)
from distributor.plugin.version import API_VERSION
from distributor.render.context import Message, RenderContext


class Channel:
    """Base class of channels.

    Subclasses set ``type_name`` and ``config_model``, implement :meth:`render` and
    :meth:`send`, and may declare limits. Implementing :meth:`render_digest` makes the
    channel send digests (the digest protocol, :class:`~distributor.plugin.DigestChannel`);
    :meth:`send_digest` defaults to posting the digest's messages through :meth:`send`.
    """

    #: the plugin API version the channel is written against (only the major must match)
    api_version: ClassVar[str] = API_VERSION
    type_name: ClassVar[str] = ""
    config_model: ClassVar[type[ChannelConfig]] = ChannelConfig

    # -- limits (the platform's; the core paces and the renderers cut by them) --------------
    #: longest text one message may carry, as the platform counts it (None: no limit)
    body_maxlen: ClassVar[int | None] = None
    #: longest title the platform shows (None: no limit)
    title_maxlen: ClassVar[int | None] = None
    #: most messages a minute on one channel (None: no pacing); ``rate_per_minute`` in
    #: channels.yaml overrides it per channel
    rate_per_minute: ClassVar[float | None] = None

    #: the site (name, url, language, timezone); set by the core after construction
    site: SiteConfig | None = None

    #: how the dashboard shows this channel's messages: "chat" (bubbles in a chat: text and
    #: image; Telegram HTML when the message says ``parse_mode: HTML``), "thread" (posts one
    #: under the other, each with its length as :meth:`measure` counts it against
    #: ``body_maxlen``), "email" (subject and the mail's HTML in a sandboxed frame) or "text"
    #: (the readable text as it is)
    preview_style: ClassVar[str] = "text"

    #: channels whose instances have the same key share credentials (one bot token): an error
    #: that pauses one (an invalid token) pauses them all. None: not shared.
    credential_key: str | None = None

    def __init__(self, config: ChannelConfig):
        self.config = config

    def setup(self, env: ChannelEnv) -> None:
        """Called by the core once, after construction (and after ``site`` is set), with the
        channel's :class:`~distributor.plugin.ChannelEnv`: its state, the stores it shares
        with other channels, how this process runs. Keep what it needs; no I/O here."""
        return None

    # -- rendering (pure) -------------------------------------------------------------------
    def render(self, article: Article, ctx: RenderContext) -> list[Message]:
        """The article as the messages this channel posts (a thread: several)."""
        raise NotImplementedError

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        """The digest protocol: the digest of these articles as messages (pure). A channel
        that implements it sends digests (:func:`~distributor.plugin.sends_digests`)."""
        raise NotImplementedError(f"{self.type_name} channels do not send digests")

    # -- sending ----------------------------------------------------------------------------
    async def send(self, message: Message, ctx: SendContext) -> str:
        """Publish one message; return the platform's id for it.

        ``ctx.previous_id`` is the remote id of the message before it in the same delivery
        (the previous post of a thread). Raise :class:`TransientError`,
        :class:`PermanentError` or :class:`AmbiguousError`; anything else is treated as
        transient (and logged as a bug of the channel).
        """
        raise NotImplementedError

    async def send_digest(self, messages: list[Message], ctx: DigestContext) -> str:
        """The digest protocol's default: post the messages through :meth:`send`, one after
        the other, skipping those an interrupted attempt posted already."""
        total = len(messages)
        for index in range(len(ctx.remote_ids), total):
            remote_id = await self.send(messages[index], ctx.send_context(index, total))
            ctx.record(str(remote_id))
            ctx.progress(index + 1, total)
        return ctx.remote_ids[0] if ctx.remote_ids else ""

    @property
    def supports_digest(self) -> bool:
        """True when this channel implements the digest protocol (derived, never set)."""
        return implements_digests(type(self))

    async def reconcile(self, messages: list[Message], sent_ids: list[str]) -> str | None:
        """For a delivery whose outcome is unknown: the remote id if the platform has the
        message, else None (the delivery stays ``unknown`` for an editor)."""
        return None

    def hold_until(self) -> datetime | None:
        """After a successful send: when the platform said this account may not post again
        before a time (its allowance is used up), that time; the core holds the channel
        until then, so every process knows without asking the platform."""
        return None

    @classmethod
    def measure(cls, text: str) -> int | None:
        """The length of ``text`` as the platform counts it (X weighs characters), for the
        dashboard's previews; None when it is plain characters."""
        return None

    @classmethod
    def preview_text(cls, message: Message) -> str:
        """The text a reader sees of this message, for the dashboard's previews (default: its
        ``text`` or ``caption``)."""
        return message_text(message)

    @classmethod
    def preview_image(cls, message: Message) -> str | None:
        """The address of the image this message shows, for the dashboard's previews (default:
        its ``image`` or ``photo``, when it is a URL); None without one."""
        for key in ("image", "photo"):
            value = message.get(key)
            if isinstance(value, str) and value.startswith(("https://", "http://")):
                return value
        return None

    @classmethod
    def editor_bots(cls, desk: Any, stop: Any) -> Any:
        """Optional: a coroutine running this platform's editor bots (long polling) until
        ``stop`` is set, answering editors through ``desk`` (a :class:`Desk`); None when the
        platform has none. Called once per channel type."""
        return None

    @classmethod
    def editor_webhooks(cls, desk: Any) -> Any:
        """Optional: this platform's editor bots answered by webhook under ``serve`` (an
        object with ``lifespan``, ``url``, ``receive``: see interfaces/web/editor_webhooks);
        None when the platform has none."""
        return None

    def post_url(self, remote_id: str, *, moved_to: str | None = None) -> str | None:
        """The public address of a published post (``moved_to``: where the platform moved the
        channel, as recorded); None when the platform gives posts no address."""
        return None

    def profile_url(self) -> str | None:
        """The public page of the channel's account or chat, where an editor checks by eye
        whether a post whose outcome is unknown went out; None when there is none."""
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


#: the name the built-in channels were written with; the same class
Adapter = Channel


def implements_digests(cls: type) -> bool:
    """True when the class renders digests itself (the base only refuses)."""
    own = getattr(cls, "render_digest", None)
    return callable(own) and own is not Channel.render_digest and callable(
        getattr(cls, "send_digest", None))


def message_text(message: Message) -> str:
    """The readable text of a message, whatever the channel."""
    for key in ("text", "caption"):
        if isinstance(message.get(key), str):
            return str(message[key])
    return json.dumps(message, ensure_ascii=False, indent=2)
