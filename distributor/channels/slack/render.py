"""Slack messages in Block Kit: the headline as a link, the lede's first sentences, the
article's image, and a context line with the site and a "read more" link; a digest as one
message listing the period's headlines, each a link.

Slack's limits (https://docs.slack.dev/reference/block-kit/blocks): a message holds at most 50
blocks, a section's text 3000 characters, a header's 150, an image's alt text 2000 and its URL
3000; the top-level ``text`` (the notification, and what screen readers read) is kept short.
Text from the article is escaped for Slack's mrkdwn (``&``, ``<``, ``>``), so it can never
make a link, a mention or a channel ping of its own.
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
    language_of,
    lead_and_rest,
    lede_excerpt,
    title_repeats_lede,
    words,
)

BLOCKS_PER_MESSAGE = 50
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
ALT_LIMIT = 2000
URL_LIMIT = 3000
#: the notification text (Slack truncates beyond 40 000; a notification shows far less)
TEXT_LIMIT = 300
#: the lede a post carries: one or two sentences, never the story
LEDE_LIMIT = 600
#: a headline longer than this is cut (Slack would show it, but a post is not the story)
TITLE_LIMIT = 250


def escape(text: str) -> str:
    """``text`` shown as it is in mrkdwn: no link, mention or markup of its own."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """``<url|label>``; an address holding ``|`` or ``>`` is quoted so the link stays whole."""
    target = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")
    return f"<{target}|{escape(label)}>"


def _fits(limit: int) -> Any:
    return lambda text: len(escape(text)) <= limit


def _image(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) and len(url) <= URL_LIMIT \
        else None


def render_slack(article: Article, ctx: RenderContext) -> list[Message]:
    language = language_of(article, ctx.site)
    title = " ".join((article.title or "").split())
    lede = " ".join((article.lede or "").split())
    if lede and title_repeats_lede(article):  # the headline is the lede's first words
        title, lede = lead_and_rest(lede_excerpt(lede, LEDE_LIMIT))
    else:
        lede = lede_excerpt(lede, LEDE_LIMIT) if lede else ""
    title = cut(title or article.url, _fits(TITLE_LIMIT))
    headline = f"*{link(article.url, title)}*"
    body = f"{headline}\n{escape(lede)}" if lede else headline
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn",
                                                                  "text": body}}]
    image = _image(article.image)
    if image:
        blocks.append({"type": "image", "image_url": image,
                       "alt_text": cut(title, lambda t: len(t) <= ALT_LIMIT)})
    blocks.append({"type": "context", "elements": [{
        "type": "mrkdwn",
        "text": f"{escape(ctx.site.name)} · {link(article.url, words(language).read_more)}"}]})
    return [{"text": escape(cut(title, _fits(TEXT_LIMIT))), "blocks": blocks,
             "unfurl_links": False, "unfurl_media": False}]


def render_slack_digest(articles: list[Article], ctx: RenderContext) -> list[Message]:
    """One message: a header and the headlines as links, in sections of at most 3000
    characters; more messages only past 50 blocks."""
    heading = ctx.site.name
    if ctx.now is not None:
        heading = f"{heading}, {day_and_month(ctx.now, ctx.site)}"
    heading = cut(heading, lambda t: len(t) <= HEADER_LIMIT)
    lines = [f"• {link(a.url, cut(' '.join((a.title or a.url).split()), _fits(TITLE_LIMIT)))}"
             for a in articles]
    sections: list[str] = []
    current = ""
    for line in lines:
        joined = f"{current}\n{line}" if current else line
        if len(joined) > SECTION_LIMIT:
            sections.append(current)
            joined = line
        current = joined
    if current:
        sections.append(current)
    blocks: list[dict[str, Any]] = [{"type": "header",
                                     "text": {"type": "plain_text", "text": heading}}]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in sections]
    summary = cut(f"{heading}: " + "; ".join(a.title or a.url for a in articles),
                  lambda t: len(escape(t)) <= TEXT_LIMIT)
    messages: list[Message] = []
    for start in range(0, len(blocks), BLOCKS_PER_MESSAGE):
        messages.append({"text": escape(summary), "blocks": blocks[start:start +
                                                                  BLOCKS_PER_MESSAGE],
                         "unfurl_links": False, "unfurl_media": False})
    return messages


_LINK = re.compile(r"<([^|>]+)\|([^>]*)>")


def unmark(text: str) -> str:
    """mrkdwn as a reader reads it: ``<url|label>`` as "label url", no bold stars, the
    escapes undone."""
    text = _LINK.sub(lambda m: f"{m.group(2)} {m.group(1)}", text).replace("*", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def readable(message: Message) -> str:
    """The blocks' text as a reader reads it (for previews and the outbox's .txt)."""
    parts: list[str] = []
    for block in message.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(str(text.get("text") or ""))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("text"):
                parts.append(str(element["text"]))
    return unmark("\n\n".join(p for p in parts if p) or str(message.get("text") or ""))
