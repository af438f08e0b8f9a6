"""How the dashboard shows a rendered message the way its platform would, safely.

- Telegram: the message's HTML is rebuilt keeping only the tags Telegram's HTML parse mode
  accepts (and only http(s)/tg/mailto links); every other tag, attribute and all text is
  escaped, so the bubble can never carry markup of its own.
- X: plain text, escaped, with links and hashtags styled as X shows them.
- Links to live posts: ``t.me/<chat>/<message id>`` and ``x.com/i/web/status/<id>``.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from distributor.plugin import Adapter

#: tags Telegram's HTML parse mode shows (tg-spoiler and span.tg-spoiler become a spoiler)
_TELEGRAM_TAGS = {"b": "b", "strong": "b", "i": "i", "em": "i", "u": "u", "ins": "u",
                  "s": "s", "strike": "s", "del": "s", "code": "code", "pre": "pre",
                  "blockquote": "blockquote", "a": "a", "tg-spoiler": "span",
                  "span": "span", "tg-emoji": "span"}
_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")


class _TelegramSanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kept = _TELEGRAM_TAGS.get(tag)
        if kept is None:
            self.out.append(html.escape(self.get_starttag_text() or f"<{tag}>"))
            return
        values = dict(attrs)
        if tag == "a":
            href = (values.get("href") or "").strip()
            if href.lower().startswith(_SAFE_SCHEMES):
                self.out.append(f'<a href="{html.escape(href, quote=True)}" '
                                'rel="noopener noreferrer nofollow" target="_blank">')
            else:
                self.out.append("<a>")
        elif tag in ("tg-spoiler", "span"):
            self.out.append('<span class="tg-spoiler">')
        elif tag == "tg-emoji":
            self.out.append("<span>")
        else:
            self.out.append(f"<{kept}>")
        self.stack.append(kept)

    def handle_endtag(self, tag: str) -> None:
        kept = _TELEGRAM_TAGS.get(tag)
        if kept is None or kept not in self.stack:
            self.out.append(html.escape(f"</{tag}>"))
            return
        while self.stack:  # close what the message left open inside it
            top = self.stack.pop()
            self.out.append(f"</{top}>")
            if top == kept:
                break

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(html.escape(self.get_starttag_text() or f"<{tag}/>"))

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))

    def handle_comment(self, data: str) -> None:
        self.out.append(html.escape(f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.out.append(html.escape(f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self.out.append(html.escape(f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self.out.append(html.escape(f"<![{data}]>"))

    def result(self) -> str:
        self.close()
        while self.stack:
            self.out.append(f"</{self.stack.pop()}>")
        return "".join(self.out)


def telegram_html(text: str) -> Markup:
    """The message's HTML as Telegram would show it: allowed tags kept, the rest escaped."""
    parser = _TelegramSanitizer()
    parser.feed(text or "")
    return Markup(parser.result().replace("\n", "<br>\n"))  # sanitized above


_X_TOKENS = re.compile(r"(https?://[^\s<>\"']+)|(?<![\w&])([#@][\w]+)", re.UNICODE)


def x_html(text: str) -> Markup:
    """A post's text, escaped, with links, hashtags and mentions coloured like X."""
    out: list[str] = []
    last = 0
    for match in _X_TOKENS.finditer(text or ""):
        out.append(str(escape(text[last:match.start()])))
        url, tag = match.group(1), match.group(2)
        if url:
            shown = re.sub(r"^https?://(www\.)?", "", url)
            shown = shown if len(shown) <= 30 else shown[:29] + "…"
            out.append(f'<a href="{escape(url)}" rel="noopener noreferrer nofollow" '
                       f'target="_blank">{escape(shown)}</a>')
        else:
            out.append(f'<span class="x-tag">{escape(tag)}</span>')
        last = match.end()
    out.append(str(escape((text or "")[last:])))
    return Markup("".join(out).replace("\n", "<br>\n"))  # escaped above


def live_url(remote_id: str | None, adapter: Adapter | None) -> str | None:
    """The public address of a published post, as the channel's adapter gives it (a channel
    the platform moved knows where from its own state)."""
    if not remote_id or adapter is None:
        return None
    return adapter.post_url(remote_id)
