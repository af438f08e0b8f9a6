"""The digest protocol: a channel that can send a digest (the articles of a period in one
go) implements :class:`DigestChannel`. Any channel may: the base class's ``send_digest``
posts the rendered messages through ``send`` (a chat channel posts one message); the email
fan-out is another implementation, sending one mail to every subscriber.

Its configuration adds the keys :class:`DigestChannelConfig` declares (``schedule``,
``min_articles``), so ``publish: digest`` with a ``schedule`` is accepted by ``check``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from pydantic import Field, field_validator

from distributor.articles import Article
from distributor.config import ChannelConfig, SiteConfig, validate_cron
from distributor.plugin.context import DigestContext
from distributor.render.context import Message, RenderContext


@runtime_checkable
class DigestChannel(Protocol):
    """What a channel that sends digests implements (``render_digest``; ``send_digest`` has a
    default on the base class). Every :class:`Channel` has both names (the base's
    ``render_digest`` refuses), so ask :func:`sends_digests`, not ``isinstance``."""

    def render_digest(self, articles: list[Article], ctx: RenderContext) -> list[Message]:
        """The digest of these articles as messages (pure, like ``render``)."""
        ...

    async def send_digest(self, messages: list[Message], ctx: DigestContext) -> str:
        """Send a rendered digest; return an id for it (the first part's remote id). Send
        only what ``ctx.remote_ids`` does not hold yet, and ``ctx.record`` each part."""
        ...


class DigestChannelConfig(ChannelConfig):
    """Configuration of a channel that can send digests: ``publish: digest`` needs a
    ``schedule`` (a cron, in site.timezone); a period with fewer than ``min_articles`` new
    articles sends nothing, and its articles go into the next digest."""

    schedule: str | None = Field(default=None, description="cron, in site.timezone (digests)")
    min_articles: int = Field(default=1, ge=1)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return validate_cron(value) if value is not None else None

    def check_with_site(self, site: SiteConfig) -> Iterator[tuple[tuple[Any, ...], str]]:
        if self.publish == "digest" and not self.schedule:
            yield ("publish",), ('a digest channel needs schedule: (a cron such as "0 6 * * *", '
                                 "in site.timezone)")
