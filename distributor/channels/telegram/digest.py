"""The Telegram digest (``publish: digest`` with a ``schedule``): one message listing the
period's articles, each headline a link, under a bold heading with the site and the day; more
messages only where Telegram's 4096 characters force it. No link preview (it would show only
the first article)."""

from __future__ import annotations

import html

from distributor.channels.telegram.render import TEXT_LIMIT, TITLE_LIMIT, telegram_length
from distributor.plugin import Article, Message, RenderContext, cut, day_and_month


def render_telegram_digest(articles: list[Article], ctx: RenderContext) -> list[Message]:
    heading = ctx.site.name
    if ctx.now is not None:
        heading = f"{heading}, {day_and_month(ctx.now, ctx.site)}"
    lines = []
    for article in articles:
        title = cut(" ".join((article.title or article.url).split()),
                    lambda t: len(t) <= TITLE_LIMIT)
        href = html.escape(article.url, quote=True)
        lines.append(f'• <a href="{href}">{html.escape(title, quote=False)}</a>')
    texts: list[str] = []
    current = f"<b>{html.escape(heading, quote=False)}</b>\n"
    filled = False
    for line in lines:
        joined = f"{current}\n{line}"
        if filled and telegram_length(joined) > TEXT_LIMIT:
            texts.append(current)
            joined = f"<b>{html.escape(heading, quote=False)} ({len(texts) + 1})</b>\n\n{line}"
        current, filled = joined, True
    texts.append(current)
    return [{"method": "sendMessage", "text": text, "parse_mode": "HTML",
             "link_preview_options": {"is_disabled": True}} for text in texts]
