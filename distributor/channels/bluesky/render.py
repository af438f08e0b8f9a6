"""Bluesky posts: the headline, the lede's first sentences and a short form of the link (a
*facet* makes it a link to the whole address, at its exact UTF-8 byte offsets), with an
external embed card (the article's title, description and image); a digest as posts listing
the period's headlines, each a link, as few as the limit allows.

Bluesky counts a post's text in grapheme clusters: at most 300 (``app.bsky.feed.post``,
``maxGraphemes``). They are counted with the ``regex`` module's ``\\X`` when it is installed
(the ``bluesky`` extra), else as code points, which never counts fewer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

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
)

try:
    import regex as _regex
except ImportError:  # pragma: no cover - the bluesky extra brings it
    _regex = None

GRAPHEME_LIMIT = 300
#: the card's title and description (app.bsky.embed.external: no limit set; kept readable)
CARD_TITLE_LIMIT = 300
CARD_DESCRIPTION_LIMIT = 1000
#: the link as the text shows it (host and the start of the path)
LINK_SHOWN = 32
LEDE_LIMIT = 300
LINK_FACET = "app.bsky.richtext.facet#link"


def graphemes(text: str) -> int:
    """Grapheme clusters, as Bluesky counts its limit."""
    if _regex is None:
        return len(text)
    return len(_regex.findall(r"\X", text))


def shown_link(url: str) -> str:
    """``rinews.example/berita/banjir-se…``: what the post shows of a link."""
    parts = urlsplit(url)
    shown = parts.netloc + parts.path
    if parts.query:
        shown += "?" + parts.query
    shown = shown.rstrip("/")
    return shown if len(shown) <= LINK_SHOWN else shown[:LINK_SHOWN - 1] + "…"


def link_facet(text: str, start: int, shown: str, url: str) -> dict[str, Any]:
    """The facet making ``shown`` (found at character ``start`` of ``text``) a link to
    ``url``: byte offsets in the UTF-8 encoding of the text, as the protocol wants them."""
    byte_start = len(text[:start].encode("utf-8"))
    return {"index": {"byteStart": byte_start,
                      "byteEnd": byte_start + len(shown.encode("utf-8"))},
            "features": [{"$type": LINK_FACET, "uri": url}]}


def _fits(room: int) -> Any:
    return lambda text: graphemes(text) <= room


def render_bluesky(article: Article, ctx: RenderContext) -> list[Message]:
    config: Any = ctx.channel
    title = " ".join((article.title or "").split())
    lede = " ".join((article.lede or "").split())
    if lede and title_repeats_lede(article):  # the headline is the lede's first words
        title, lede = lead_and_rest(lede_excerpt(lede, LEDE_LIMIT))
    else:
        lede = lede_excerpt(lede, LEDE_LIMIT) if lede else ""
    link = shown_link(article.url)
    room = GRAPHEME_LIMIT - graphemes(link) - 2
    title = cut(title, _fits(min(room, 200))) if title else ""
    room -= graphemes(title) + 2 if title else 0
    lede = cut(lede, _fits(room)) if lede and room > 20 else ""
    head = "\n\n".join(p for p in (title, lede) if p)
    text = f"{head}\n\n{link}" if head else link
    message: Message = {"text": text,
                        "facets": [link_facet(text, len(text) - len(link), link, article.url)]}
    language = getattr(config, "language", None) or language_of(article, ctx.site)
    if language:
        message["langs"] = [language]
    card: dict[str, Any] = {
        "uri": article.url,
        "title": cut(" ".join((article.title or "").split()) or link,
                     lambda t: len(t) <= CARD_TITLE_LIMIT),
        "description": cut(" ".join((article.lede or "").split()),
                           lambda t: len(t) <= CARD_DESCRIPTION_LIMIT)}
    if getattr(config, "image", True) and article.image and \
            article.image.startswith(("https://", "http://")):
        card["thumb"] = article.image
    message["embed"] = card
    return [message]


def render_bluesky_digest(articles: list[Article], ctx: RenderContext) -> list[Message]:
    """Posts listing the headlines, each a link (a facet on the headline); a new post only
    when the next headline would pass 300 graphemes. The posts after the first reply to it."""
    config: Any = ctx.channel
    heading = ctx.site.name
    if ctx.now is not None:
        heading = f"{heading}, {day_and_month(ctx.now, ctx.site)}"
    room = GRAPHEME_LIMIT - graphemes(heading) - 8  # " (nn)", the blank line, "• "
    posts: list[tuple[str, list[dict[str, Any]]]] = []
    text, facets = heading, list[dict[str, Any]]()
    for article in articles:
        title = cut(" ".join((article.title or "").split()) or shown_link(article.url),
                    _fits(room))
        joined = f"{text}\n\n• {title}" if not facets else f"{text}\n• {title}"
        if facets and graphemes(joined) > GRAPHEME_LIMIT:
            posts.append((text, facets))
            text, facets = f"{heading} ({len(posts) + 1})", []
            joined = f"{text}\n\n• {title}"
        facets.append(link_facet(joined, len(joined) - len(title), title, article.url))
        text = joined
    posts.append((text, facets))
    language = getattr(config, "language", None) or ctx.site.language
    return [{"text": t, "facets": f, **({"langs": [language]} if language else {})}
            for t, f in posts]
