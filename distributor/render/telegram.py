"""Telegram posts in HTML parse mode: bold headline, lede, "Baca selengkapnya" link, hashtags.

Telegram counts lengths after parsing entities: the visible text (tags removed, ``&amp;`` and
friends decoded) in UTF-16 code units. A caption holds 1024 of them, a message 4096. An article
with an image becomes ``sendPhoto`` when its caption fits, else ``sendMessage`` with a link
preview of the article. A lede too long for a message is shortened at a sentence (else a word)
with "…"; shortening works on the plain lede before the template escapes it, so it can never cut
a tag or an entity.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from distributor.articles import Article
from distributor.channels.base import Message, RenderContext
from distributor.render import Templates, hashtags, language_of, templates_for, words
from distributor.render.split import shorten

__all__ = [
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "check_telegram_html",
    "render_telegram",
    "telegram_length",
    "utf16_length",
]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
TEMPLATE = "telegram/post.html"

#: tags Telegram's HTML parse mode accepts, with the attributes each may carry
ALLOWED_TAGS: dict[str, frozenset[str]] = {
    "b": frozenset(), "strong": frozenset(), "i": frozenset(), "em": frozenset(),
    "u": frozenset(), "ins": frozenset(), "s": frozenset(), "strike": frozenset(),
    "del": frozenset(), "tg-spoiler": frozenset(), "span": frozenset({"class"}),
    "a": frozenset({"href"}), "code": frozenset({"class"}), "pre": frozenset(),
    "blockquote": frozenset({"expandable"}), "tg-emoji": frozenset({"emoji-id"}),
}
NAMED_ENTITIES = frozenset({"lt", "gt", "amp", "quot"})


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as Telegram (and JavaScript) count."""
    return len(text.encode("utf-16-le")) // 2


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(html_text: str) -> str:
    """The text Telegram shows for ``html_text``: tags removed, entities decoded."""
    parser = _VisibleText()
    parser.feed(html_text)
    parser.close()
    return "".join(parser.parts)


def telegram_length(html_text: str) -> int:
    """The length Telegram checks against its limits: UTF-16 units of the visible text."""
    return utf16_length(visible_text(html_text))


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.problems: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"<{tag}> is not a tag Telegram accepts")
            return
        for name, _value in attrs:
            if name not in ALLOWED_TAGS[tag]:
                self.problems.append(f"<{tag}> cannot carry the attribute {name!r}")
        if tag == "a" and not dict(attrs).get("href"):
            self.problems.append("<a> without href")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"<{tag}/>: Telegram has no self-closing tags")

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> does not close the innermost open tag")
            if tag in self.open:
                del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        for char in "<>&":
            if char in data:
                self.problems.append(f"unescaped {char!r} in the text")

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            self.problems.append(f"&{name}; is not an entity Telegram knows (lt, gt, amp, quot)")

    def handle_comment(self, data: str) -> None:
        self.problems.append("HTML comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("declarations are not allowed")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("declarations are not allowed")


def check_telegram_html(html_text: str) -> list[str]:
    """Why Telegram would refuse ``html_text`` in HTML parse mode ([] when it would not)."""
    checker = _Checker()
    checker.feed(html_text)
    checker.close()
    problems = checker.problems
    if checker.rawdata:  # an unterminated tag or entity
        problems.append(f"unterminated markup at the end: {checker.rawdata[:20]!r}")
    problems.extend(f"<{tag}> is never closed" for tag in checker.open)
    return problems


def _post(templates: Templates, article: Article, ctx: RenderContext, language: str,
          title: str, lede: str) -> str:
    config = ctx.channel
    tags = hashtags(article.tags) if getattr(config, "hashtags", False) else []
    return templates.render(
        TEMPLATE,
        title=title,
        lede=lede,
        url=article.url,
        hashtags=tags,
        words=words(language),
        language=language,
        article=article,
        site=ctx.site,
        channel=config,
    ).strip()


def _fit(limit: int, render: Any, title: str, lede: str) -> str:
    """The post, its lede (else its title) shortened until it fits ``limit``."""
    text: str = render(title, lede)
    if telegram_length(text) <= limit:
        return text
    shorter = shorten(lede, lambda candidate: telegram_length(render(title, candidate)) <= limit)
    if shorter or telegram_length(render(title, "")) <= limit:
        return str(render(title, shorter))
    short_title = shorten(title, lambda candidate: telegram_length(render(candidate, "")) <= limit)
    text = render(short_title, "")
    if telegram_length(text) > limit:
        raise ValueError(f"the Telegram template {TEMPLATE} alone is longer than {limit} "
                         "characters; shorten it")
    return text


def render_telegram(article: Article, ctx: RenderContext) -> list[Message]:
    """One message: ``sendPhoto`` with a caption when the article has an image and the caption
    fits 1024, else ``sendMessage`` (at most 4096) with a preview of the article's page."""
    templates = templates_for(ctx)
    language = language_of(article, ctx.site)
    title = " ".join(article.title.split())
    lede = " ".join(article.lede.split())

    def render(t: str, lede_text: str) -> str:
        return _post(templates, article, ctx, language, t, lede_text)

    message: Message
    full = render(title, lede)
    if article.image and telegram_length(full) <= CAPTION_LIMIT:
        message = {"method": "sendPhoto", "photo": article.image, "caption": full,
                   "parse_mode": "HTML"}
        body = full
    else:
        body = _fit(TEXT_LIMIT, render, title, lede)
        preview: dict[str, Any] = {"url": article.url}
        if article.image:
            preview["prefer_large_media"] = True
        message = {"method": "sendMessage", "text": body, "parse_mode": "HTML",
                   "link_preview_options": preview}
    problems = check_telegram_html(body)
    if problems:
        raise ValueError(f"the Telegram template {TEMPLATE} produced HTML Telegram refuses: "
                         + "; ".join(problems))
    return [message]
