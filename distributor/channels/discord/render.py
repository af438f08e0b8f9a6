"""Discord messages: an embed with the headline (linked), the lede's first sentences, the
article's image and the site; a digest as embeds listing the period's headlines, each a link.

Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits):
an embed title holds 256 characters, a description 4096, a footer 2048, all the embeds of one
message together 6000, and a message at most 10 embeds. Text from the article is escaped for
Discord's markdown, and no message can ping anyone (``allowed_mentions`` allows nothing).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from distributor.plugin import (
    Article,
    Message,
    RenderContext,
    cut,
    day_and_month,
    language_of,
    lead_and_rest,
    lede_excerpt,
    title_repeats_lede,
    words,
)

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FOOTER_LIMIT = 2048
MESSAGE_EMBEDS_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
#: the lede a post carries: one or two sentences, never the story
LEDE_LIMIT = 600
#: nobody is pinged by what an article says ("@everyone" in a quote)
NO_MENTIONS: dict[str, Any] = {"parse": []}

_MARKDOWN = re.compile(r"([\\*_~`|>\[\]<#])")


def discord_length(text: str) -> int:
    """Characters as Discord counts them (UTF-16 code units: never fewer than code points)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """``text`` shown as it is: Discord's markdown, mentions and emoji syntax escaped."""
    return _MARKDOWN.sub(r"\\\1", text)


def link_target(url: str) -> str:
    """An address that cannot end a markdown link early (spaces and brackets quoted)."""
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._").replace("(", "%28").replace(")", "%29")


def _fits(limit: int) -> Any:
    return lambda text: discord_length(escape(text)) <= limit


def _http(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


def render_discord(article: Article, ctx: RenderContext) -> list[Message]:
    """One message: an embed titled with the headline, linking to the article."""
    language = language_of(article, ctx.site)
    lede = " ".join((article.lede or "").split())
    title = " ".join((article.title or "").split())
    if lede and title_repeats_lede(article):  # the headline is the lede's first words
        title, lede = lead_and_rest(lede_excerpt(lede, LEDE_LIMIT))
    else:
        lede = lede_excerpt(lede, LEDE_LIMIT) if lede else ""
    title = cut(title, _fits(TITLE_LIMIT)) if title else ""
    read_more = f"[{escape(words(language).read_more)}]({link_target(article.url)})"
    description = "\n\n".join(p for p in (escape(lede), read_more) if p)
    embed: dict[str, Any] = {"title": escape(title) or escape(article.url[:TITLE_LIMIT]),
                             "url": article.url, "description": description}
    image = _http(article.image)
    if image:
        embed["image"] = {"url": image}
    embed["footer"] = {"text": escape(ctx.site.name)[:FOOTER_LIMIT]}
    if article.published is not None:
        embed["timestamp"] = article.published.isoformat()
    return [{"embeds": [embed], "allowed_mentions": NO_MENTIONS}]


def render_discord_digest(articles: list[Article], ctx: RenderContext) -> list[Message]:
    """The period's articles as one list of linked headlines: one embed while the description
    holds them, more embeds (and messages) only where Discord's limits force it."""
    heading = escape(ctx.site.name)
    if ctx.now is not None:
        heading = f"{heading}, {escape(day_and_month(ctx.now, ctx.site))}"
    lines = []
    for article in articles:
        title = " ".join((article.title or article.url).split())
        title = cut(title, _fits(TITLE_LIMIT))
        lines.append(f"• [{escape(title)}]({link_target(article.url)})")
    messages: list[Message] = []
    embeds: list[dict[str, Any]] = []
    used = 0  # characters of the finished embeds of the message being filled
    description = ""
    title = heading  # the first embed carries the heading; the ones after continue it

    def close_embed() -> None:
        nonlocal used, description, title
        embed = {"title": title, "description": description} if title else \
            {"description": description}
        embeds.append(embed)
        used += discord_length(title) + discord_length(description)
        description, title = "", ""

    for line in lines:
        joined = f"{description}\n{line}" if description else line
        size = discord_length(joined)
        if size <= DESCRIPTION_LIMIT and used + discord_length(title) + size <= \
                MESSAGE_EMBEDS_LIMIT:
            description = joined
            continue
        close_embed()
        if len(embeds) >= EMBEDS_PER_MESSAGE or used + discord_length(line) > \
                MESSAGE_EMBEDS_LIMIT:
            messages.append({"embeds": embeds, "allowed_mentions": NO_MENTIONS})
            embeds, used = [], 0
        description = line
    if description or not lines:
        close_embed()
    if embeds:
        messages.append({"embeds": embeds, "allowed_mentions": NO_MENTIONS})
    return messages


_MASKED_LINK = re.compile(r"\[((?:\\.|[^\]])*)\]\(([^)\s]+)\)")
_ESCAPED = re.compile(r"\\([\\*_~`|>\[\]<#])")


def unmark(text: str) -> str:
    """Discord markdown as a reader reads it: ``[label](url)`` as "label url", escapes undone."""
    return _ESCAPED.sub(r"\1", _MASKED_LINK.sub(lambda m: f"{m.group(1)} {m.group(2)}", text))


def readable(message: Message) -> str:
    """A message as a reader reads it (for previews and the outbox's .txt)."""
    parts = [str(message.get("content") or "")]
    for embed in message.get("embeds") or []:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or ""),
                  str(embed.get("url") or "")]
    return unmark("\n\n".join(p for p in parts if p))
