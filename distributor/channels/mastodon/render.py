"""Mastodon statuses: the headline, the lede's first sentences and the link, within the
instance's limit; a digest as one status listing the period's headlines and links, split into
more only where the limit forces it.

Mastodon counts a status as its characters with every link counting 23 (whatever its length)
and a mention only by its user name; its limit is the instance's (``/api/v2/instance``:
``configuration.statuses.max_characters``, 500 by default). Mastodon counts grapheme clusters;
counting code points, as here, never counts fewer, so what fits here fits there.
"""

from __future__ import annotations

import re
from typing import Any

from distributor.plugin import (
    Article,
    Message,
    RenderContext,
    cut,
    day_and_month,
    lead_and_rest,
    lede_excerpt,
    title_repeats_lede,
)

DEFAULT_LIMIT = 500
URL_LENGTH = 23
#: Mastodon's limit on an image description (alt text)
ALT_LIMIT = 1500
#: the lede a status carries at most (one or two sentences)
LEDE_LIMIT = 400

_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w/])(@\w+)@[\w.-]+\w", re.UNICODE)


def mastodon_length(text: str, url_length: int = URL_LENGTH) -> int:
    """The length Mastodon checks against its limit (links count ``url_length``)."""
    text = _MENTION.sub(r"\1", text)
    return len(_URL.sub("x" * url_length, text))


def _image(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


def render_mastodon(article: Article, ctx: RenderContext, *, limit: int = DEFAULT_LIMIT,
                    url_length: int = URL_LENGTH) -> list[Message]:
    """One status: headline, lede, link (and hashtags when they fit)."""
    config: Any = ctx.channel
    title = " ".join((article.title or "").split())
    lede = " ".join((article.lede or "").split())
    if lede and title_repeats_lede(article):  # the headline is the lede's first words
        title, lede = lead_and_rest(lede_excerpt(lede, LEDE_LIMIT))
    else:
        lede = lede_excerpt(lede, LEDE_LIMIT) if lede else ""

    def length(text: str) -> int:
        return mastodon_length(text, url_length)

    link = article.url
    room = limit - url_length - 2  # the link and the blank line before it
    title = cut(title, lambda t: length(t) <= min(room, 200)) if title else ""
    room -= length(title) + 2 if title else 0
    lede = cut(lede, lambda t: length(t) <= room) if lede and room > 20 else ""
    status = "\n\n".join(p for p in (title, lede, link) if p)
    message: Message = {"status": status, "visibility": getattr(config, "visibility", "public")}
    language = getattr(config, "language", None) or article.language
    if language:
        message["language"] = language
    image = _image(article.image) if getattr(config, "image", True) else None
    if image:
        message["image"] = image
        message["image_alt"] = cut(title or lede or link, lambda t: len(t) <= ALT_LIMIT)
    return [message]


def render_mastodon_digest(articles: list[Article], ctx: RenderContext, *,
                           limit: int = DEFAULT_LIMIT, url_length: int = URL_LENGTH
                           ) -> list[Message]:
    """The headlines and links of the period, as few statuses as the limit allows."""
    config: Any = ctx.channel
    heading = ctx.site.name
    if ctx.now is not None:
        heading = f"{heading}, {day_and_month(ctx.now, ctx.site)}"

    def length(text: str) -> int:
        return mastodon_length(text, url_length)

    entries = []
    room = limit - length(heading) - 6 - url_length - 5  # " (nn)", blank lines, "• "
    for article in articles:
        title = cut(" ".join((article.title or "").split()) or article.url,
                    lambda t: length(t) <= room)
        entries.append(f"• {title}\n{article.url}")
    statuses: list[str] = []
    current, filled = heading, False
    for entry in entries:
        joined = f"{current}\n\n{entry}"
        if filled and length(joined) > limit:
            statuses.append(current)
            joined = f"{heading} ({len(statuses) + 1})\n\n{entry}"
        current, filled = joined, True
    statuses.append(current)
    language = getattr(config, "language", None) or ctx.site.language
    return [{"status": s, "visibility": getattr(config, "visibility", "public"),
             **({"language": language} if language else {})} for s in statuses]
