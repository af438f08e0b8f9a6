"""Telegram posts in HTML parse mode: bold headline, lede, "Baca selengkapnya" link, hashtags.

A post is what a follower reads in the channel, not the story: the headline, the lede's first
one or two sentences (at most :data:`LEDE_LIMIT` characters, a longer first sentence cut where
:mod:`distributor.text.cuts` allows) and the link to the rest.

When the headline was derived from the lede (or the lede opens with it), printing both would
say the same words twice: the post then starts with the lede, its first sentence in bold.

Telegram counts lengths after parsing entities: the visible text (tags removed, ``&amp;`` and
friends decoded) in UTF-16 code units. A caption holds 1024 of them, a message 4096. An article
with an image becomes ``sendPhoto`` when its caption fits, else ``sendMessage`` with a link
preview of the article. A post still too long (a huge headline, emoji that count two units) is
shortened by the same cutting rule; shortening works on the plain lede before the template
escapes it, so it can never cut a tag or an entity.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from distributor.plugin import (
    Article,
    Message,
    RenderContext,
    Templates,
    channel_template,
    cut,
    hashtags,
    language_of,
    lead_and_rest,
    lede_excerpt,
    templates_for,
    title_repeats_lede,
    words,
)

__all__ = [
    "CAPTION_LIMIT",
    "LEDE_LIMIT",
    "TEXT_LIMIT",
    "check_telegram_html",
    "render_telegram",
    "telegram_length",
    "utf16_length",
]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
TEMPLATE = "telegram/post.html"
#: longest headline printed (feed titles can be anything): the rest of the room is the lede's
TITLE_LIMIT = 256
#: longest lede a post carries, in characters: one or two sentences, never the whole story
LEDE_LIMIT = 600

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


#: tags that only format text: they may hold, and be held by, anything but pre and code
_FORMATTING = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del",
                         "tg-spoiler", "span"})
_LINK_SCHEMES = ("http://", "https://", "tg://", "mailto:", "ton://")


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.problems: list[str] = []
        self.open: list[str] = []

    def _nesting(self, tag: str, attrs: dict[str, str | None]) -> None:
        """Telegram's rules: formatting nests freely outside pre and code; pre may hold one
        code (its language); a, code, pre and blockquote hold none of each other."""
        inside = set(self.open)
        if "code" in inside or ("pre" in inside and tag != "code"):
            self.problems.append(f"<{tag}> inside <{self.open[-1]}>: pre and code hold plain "
                                 "text only")
        elif tag == "code" and "pre" in inside and self.open[-1] != "pre":
            self.problems.append("<code> in <pre> must be its only tag")
        elif tag not in _FORMATTING and tag != "blockquote" and inside & {"a"}:
            self.problems.append(f"<{tag}> inside <a>")
        elif tag == "blockquote" and "blockquote" in inside:
            self.problems.append("<blockquote> inside <blockquote>")
        elif tag in ("pre", "a") and tag in inside:
            self.problems.append(f"<{tag}> inside <{tag}>")
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            self.problems.append('<span> needs class="tg-spoiler"')
        if tag == "code" and attrs.get("class") is not None:
            language = attrs.get("class") or ""
            if not (language.startswith("language-") and self.open[-1:] == ["pre"]):
                self.problems.append('<code class="language-..."> only directly inside <pre>')
        if tag == "tg-emoji" and not attrs.get("emoji-id"):
            self.problems.append("<tg-emoji> without emoji-id")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"<{tag}> is not a tag Telegram accepts")
            return
        for name, _value in attrs:
            if name not in ALLOWED_TAGS[tag]:
                self.problems.append(f"<{tag}> cannot carry the attribute {name!r}")
        values = dict(attrs)
        if tag == "a":
            href = (values.get("href") or "").strip()
            if not href:
                self.problems.append("<a> without href")
            elif not href.lower().startswith(_LINK_SCHEMES):
                self.problems.append(f"<a href={href[:40]!r}>: not an absolute http(s) or tg "
                                     "link")
        self._nesting(tag, values)
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

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
        except ValueError:
            code = -1
        if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            self.problems.append(f"&#{name}; is not a character")

    def handle_comment(self, data: str) -> None:
        self.problems.append("HTML comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("declarations are not allowed")

    def unknown_decl(self, data: str) -> None:
        self.problems.append("declarations are not allowed")

    def handle_pi(self, data: str) -> None:
        self.problems.append("processing instructions are not allowed")


def check_telegram_html(html_text: str, limit: int | None = None) -> list[str]:
    """Why Telegram would refuse ``html_text`` in HTML parse mode ([] when it would not).

    Tags and their attributes, nesting, escaping of ``< > &``, entities, and with ``limit``
    (4096 for a message, 1024 for a caption) the length as Telegram counts it.
    """
    checker = _Checker()
    checker.feed(html_text)
    checker.close()
    problems = checker.problems
    if checker.rawdata:  # an unterminated tag or entity
        problems.append(f"unterminated markup at the end: {checker.rawdata[:20]!r}")
    problems.extend(f"<{tag}> is never closed" for tag in checker.open)
    if limit is not None and not problems:
        length = telegram_length(html_text)
        if length > limit:
            problems.append(f"{length} UTF-16 code units of text; Telegram takes {limit}")
    if not problems and not visible_text(html_text).strip():
        problems.append("no visible text: Telegram refuses an empty message")
    return problems


_TAG_OR_TEXT = re.compile(r"(<[^>]*>)|([^<]+)")


def _plain_quotes(html_text: str) -> str:
    """Quotes escaped in text (not in attributes) back to themselves: ``&#39;`` and ``&#34;``
    are valid but make the post unreadable in a preview, and Telegram needs neither."""
    def tidy(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1)
        return match.group(2).replace("&#39;", "'").replace("&#34;", '"').replace(
            "&quot;", '"')
    return _TAG_OR_TEXT.sub(tidy, html_text)


def _post(templates: Templates, template: str, article: Article, ctx: RenderContext,
          language: str, title: str, lede: str) -> str:
    config = ctx.channel
    tags = hashtags(article.tags) if getattr(config, "hashtags", False) else []
    show_title = bool(title) and not (lede and title_repeats_lede(article))
    lead, rest = lead_and_rest(lede) if lede and not show_title else ("", lede)
    rendered = templates.render(
        template,
        title=title,
        lede=lede,
        show_title=show_title,
        lead=lead,
        rest=rest,
        url=article.url,
        hashtags=tags,
        words=words(language),
        language=language,
        article=article,
        site=ctx.site,
        channel=config,
    )
    return _plain_quotes(rendered).strip()


def _fit(limit: int, render: Any, title: str, lede: str, template: str) -> str:
    """The post, its lede (else its title) shortened until it fits ``limit``."""
    text: str = render(title, lede)
    if telegram_length(text) <= limit:
        return text
    shorter = cut(lede, lambda candidate: telegram_length(render(title, candidate)) <= limit,
                  reach=limit)
    if shorter or telegram_length(render(title, "")) <= limit:
        return str(render(title, shorter))
    short_title = cut(title, lambda candidate: telegram_length(render(candidate, "")) <= limit,
                      reach=limit)
    text = render(short_title, "")
    if telegram_length(text) > limit:
        raise ValueError(f"the Telegram template {template} alone is longer than {limit} "
                         "characters; shorten it")
    return text


def render_telegram(article: Article, ctx: RenderContext) -> list[Message]:
    """One message: ``sendPhoto`` with a caption when the article has an image and the caption
    fits 1024, else ``sendMessage`` (at most 4096) with a preview of the article's page.

    Either way the headline, the lede's first sentence or two (:data:`LEDE_LIMIT`) and the
    link: a post is the news and a way to the story, not the story."""
    templates = templates_for(ctx)
    template = channel_template(ctx, TEMPLATE)
    language = language_of(article, ctx.site)
    title = cut(article.title, lambda t: len(t) <= TITLE_LIMIT, reach=TITLE_LIMIT)
    lede = lede_excerpt(article.lede, LEDE_LIMIT)

    def render(t: str, lede_text: str) -> str:
        return _post(templates, template, article, ctx, language, t, lede_text)

    message: Message
    full = render(title, lede)
    if article.image and telegram_length(full) <= CAPTION_LIMIT:
        message = {"method": "sendPhoto", "photo": article.image, "caption": full,
                   "parse_mode": "HTML"}
        body = full
    else:
        body = _fit(TEXT_LIMIT, render, title, lede, template)
        preview: dict[str, Any] = {"url": article.url}
        if article.image:
            preview["prefer_large_media"] = True
        message = {"method": "sendMessage", "text": body, "parse_mode": "HTML",
                   "link_preview_options": preview}
    limit = CAPTION_LIMIT if message["method"] == "sendPhoto" else TEXT_LIMIT
    problems = check_telegram_html(body, limit)
    if problems:
        raise ValueError(f"the Telegram template {template} produced HTML Telegram refuses: "
                         + "; ".join(problems))
    return [message]
