"""The whole story: title, dateline, lede, body, byline, editor, related links, language."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from distributor.articles import RelatedLink
from distributor.text.clean import normalize, split_paragraphs
from distributor.text.credits import byline as _byline
from distributor.text.credits import credit_line as _credit_line
from distributor.text.dateline import split_dateline
from distributor.text.headline import derive_headline
from distributor.text.html import html_to_text, looks_like_html
from distributor.text.language import detect_language
from distributor.text.related import URL as _URL
from distributor.text.related import related_line as _related
from distributor.text.related import unlink as _unlink

__all__ = ["TITLE_MAX", "ParsedText", "parse_article_text"]

#: longest first line that can still be a title (Contract 4: "one short line")
TITLE_MAX = 120
_WORD = re.compile(r"[^\W\d_]+")

@dataclass
class ParsedText:
    """What :func:`parse_article_text` understood of a story."""

    title: str | None
    title_derived: bool
    headline: str
    dateline: str | None
    lede: str
    body: list[str] = field(default_factory=list)
    author: str | None = None
    editor: str | None = None
    related: list[RelatedLink] = field(default_factory=list)
    language: str = "en"



_FOOTERS = [re.compile(p, re.I) for p in (
    r"^artikel ini (?:telah|sudah) (?:tayang|terbit|dipublikasikan)",
    r"^klik untuk baca\b",
    r"^(?:dapatkan|simak) (?:update|breaking news|berita pilihan)",
    r"^(?:ikuti|follow)\b.{0,80}\b(?:google news|whatsapp|telegram)\b",
    r"^(?:copyright|hak cipta)\b|^©",
    r"^\(\s*(?:\*|[a-z0-9]{1,6}(?:\s*/\s*[a-z0-9]{1,6})*)\s*\)$",  # (ant/dwi), (*)
)]


def _is_footer(line: str) -> bool:
    return any(pattern.search(line) for pattern in _FOOTERS)



def _is_title_case(text: str) -> bool:
    words = [w for w in _WORD.findall(text) if len(w) > 3]
    return not words or sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _looks_like_title(line: str) -> bool:
    """Contract 4: one short line without a final full stop (questions need Title Case)."""
    if len(line) > TITLE_MAX or len(line.split()) < 2 or _URL.search(line):
        return False
    stripped = line.rstrip("\"”’')]» ")
    if not stripped or stripped.endswith((".", ",", ";", ":", "…")):
        return False
    if stripped.endswith(("!", "?")):
        return _is_title_case(stripped)
    return split_dateline(line)[1] == line




@dataclass
class _Extras:
    related: list[RelatedLink] = field(default_factory=list)
    author: str | None = None
    editor: str | None = None


def _take_extras(paragraphs: list[str]) -> tuple[list[str], _Extras]:
    """Remove footers, "Baca juga" lines and labelled credit lines."""
    extras = _Extras()
    kept: list[str] = []
    for paragraph in paragraphs:
        if _is_footer(paragraph):
            continue
        related = _related(paragraph)
        if related is not None:
            extras.related.append(related)
            continue
        credits = _credit_line(paragraph)
        if credits is not None:
            extras.author = extras.author or credits.get("author")
            extras.editor = extras.editor or credits.get("editor")
            continue
        kept.append(_unlink(paragraph))
    return kept, extras


def _take_byline(paragraphs: list[str], index: int, extras: _Extras) -> None:
    if len(paragraphs) >= 2:
        name = _byline(paragraphs[index])
        if name:
            extras.author = extras.author or name
            del paragraphs[index]


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold().rstrip(".") == " ".join(b.split()).casefold().rstrip(".")


_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")


def _clean_title(title: str) -> str:
    """A title from elsewhere (front matter, JSON, a feed) as one clean line: tags and
    entities a CMS left in it ("&#8212;", "<b>") become text."""
    if looks_like_html(title):
        title = html_to_text(title)
    elif _ENTITY.search(title):
        title = html.unescape(title)
    return normalize(_unlink(title)).replace("\n", " ")


def parse_article_text(
    text: str, *, language: str | None = None, title: str | None = None
) -> ParsedText:
    """Understand a story written one paragraph per line.

    ``title``: a title known from elsewhere (front matter, the feed); it wins, and a first
    paragraph that merely repeats it is dropped. Without it, Contract 4's rule applies: a first
    paragraph that is one short line without a final full stop is the title.
    """
    paragraphs, extras = _take_extras(split_paragraphs(text))
    _take_byline(paragraphs, 0, extras)
    found_title: str | None = None
    if title is not None and title.strip():
        found_title = _clean_title(title)
        if paragraphs and _same_text(paragraphs[0], found_title):
            paragraphs.pop(0)
    elif len(paragraphs) >= 2 and _looks_like_title(paragraphs[0]):
        found_title = paragraphs.pop(0)
    _take_byline(paragraphs, 0, extras)
    _take_byline(paragraphs, -1, extras)

    dateline, lede = split_dateline(paragraphs[0]) if paragraphs else (None, "")
    all_text = "\n".join([found_title or "", *paragraphs])
    return ParsedText(
        title=found_title,
        title_derived=found_title is None,
        headline=found_title or derive_headline(lede),
        dateline=dateline,
        lede=lede,
        body=paragraphs[1:],
        author=extras.author,
        editor=extras.editor,
        related=extras.related,
        language=language or detect_language(all_text),
    )
