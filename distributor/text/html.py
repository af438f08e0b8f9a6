"""Feed and CMS HTML -> text, one paragraph per line; the first real image."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urljoin

from distributor.text.clean import split_paragraphs

__all__ = ["first_image", "html_to_text", "looks_like_html"]

#: the elements a CMS or a feed writes; "<BBM> naik" is text, not a tag
_KNOWN_TAGS = frozenset({
    "a", "abbr", "address", "amp-img", "area", "article", "aside", "audio", "b", "big",
    "blockquote", "body", "br", "button", "canvas", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "details", "dfn", "dialog", "div", "dl", "dt", "em", "embed",
    "fieldset", "figcaption", "figure", "font", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "head", "header", "hr", "html", "i", "iframe", "img", "input", "ins", "kbd", "label",
    "legend", "li", "link", "main", "map", "mark", "meta", "nav", "noscript", "object", "ol",
    "optgroup", "option", "p", "param", "picture", "pre", "q", "s", "samp", "script", "section",
    "select", "small", "source", "span", "strike", "strong", "style", "sub", "summary", "sup",
    "svg", "table", "tbody", "td", "template", "textarea", "tfoot", "th", "thead", "time",
    "title", "tr", "track", "tt", "u", "ul", "var", "video", "wbr",
})
_TAG_NAMES = "|".join(sorted(_KNOWN_TAGS, key=len, reverse=True))
_HTML_TAG = re.compile(
    rf"<(?:(?:{_TAG_NAMES})(?:\s[^>]*)?/?|/(?:{_TAG_NAMES})\s*|!--.*?--)>", re.S | re.I)
# tags that give HTML its paragraphs; without any, the text's own line breaks are its paragraphs
_STRUCTURE = re.compile(r"<(?:p|div|br|li|h[1-6]|tr|blockquote|section|article|table|ul|ol)\b",
                        re.I)
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "center", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "tfoot", "thead", "tr", "ul",
})
_CELL_TAGS = frozenset({"td", "th"})
# figcaption: a photo's caption and credit ("Foto: Dok. Warner") is no paragraph of the story
_SKIP_TAGS = frozenset({
    "figcaption", "head", "iframe", "noscript", "object", "script", "select", "style", "svg",
    "template", "textarea", "title",
})
_WHITESPACE = re.compile(r"\s+")


def looks_like_html(text: str) -> bool:
    """True when ``text`` contains at least one HTML tag or comment."""
    return _HTML_TAG.search(text) is not None


class _HTMLText(HTMLParser):
    def __init__(self, base_url: str | None, links: bool):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.images: list[str] = []
        self._base = base_url
        self._links = links
        self._skip = 0
        self._anchors: list[tuple[int, str | None]] = []

    def _absolute(self, url: str | None) -> str | None:
        if not url:
            return None
        url = url.strip()
        if url.startswith("data:"):
            return None
        if self._base:
            url = urljoin(self._base, url)
        return url if url.startswith(("http://", "https://")) else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _KNOWN_TAGS:
            if not self._skip:  # "<BBM>": text that looks like a tag
                self.parts.append(self.get_starttag_text() or "")
        elif tag in _SKIP_TAGS:
            self._skip += 1
        elif self._skip:
            return
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")
        elif tag == "a":
            self._anchors.append((len(self.parts), self._absolute(dict(attrs).get("href"))))
        elif tag == "img":
            self._image(dict(attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP_TAGS and tag != "a":
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _KNOWN_TAGS:
            if not self._skip:
                self.parts.append(f"</{tag}>")
        elif tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif self._skip:
            return
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag == "a" and self._anchors:
            self._close_anchor(*self._anchors.pop())

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(_WHITESPACE.sub(" ", data))

    def _image(self, attrs: dict[str, str | None]) -> None:
        if attrs.get("width") == "1" or attrs.get("height") == "1":
            return  # tracking pixel
        src = self._absolute(attrs.get("src") or attrs.get("data-src"))
        if src:
            self.images.append(src)

    def _close_anchor(self, start: int, href: str | None) -> None:
        text = "".join(self.parts[start:]).strip()
        if not (self._links and href and text) or "\n" in text or text == href:
            return
        self.parts[start:] = [f"[{text}]({href})"]

    def text(self) -> str:
        return "\n\n".join(split_paragraphs("".join(self.parts)))


def html_to_text(html_text: str, *, base_url: str | None = None, links: bool = False) -> str:
    """Feed HTML -> clean text, one paragraph per line, paragraphs separated by blank lines.

    ``<p>``, ``<div>``, ``<br>``, list items, headings and table rows break paragraphs;
    entities are decoded; ``<script>``, ``<style>`` and the like are dropped. With
    ``links=True`` links with an absolute (or, given ``base_url``, resolvable) address are kept
    as Markdown links ``[text](url)``. Text without any tag is treated as plain text whose lines
    are paragraphs.
    """
    if not looks_like_html(html_text):
        return "\n\n".join(split_paragraphs(html.unescape(html_text)))
    if not _STRUCTURE.search(html_text):  # a feed's plain text with an <img> in it
        html_text = re.sub(r"&#0*13;|\r\n?|\n", "<br>", html_text)
    parser = _HTMLText(base_url, links)
    parser.feed(html_text)
    parser.close()
    return parser.text()


def first_image(html_text: str, *, base_url: str | None = None) -> str | None:
    """The address of the first real ``<img>`` in ``html_text`` (no tracking pixels)."""
    parser = _HTMLText(base_url, links=False)
    parser.feed(html_text)
    parser.close()
    return parser.images[0] if parser.images else None
