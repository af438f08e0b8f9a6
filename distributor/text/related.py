"""Read-also lines ("Baca juga: ...", "Read also: ...") and links inside text."""

from __future__ import annotations

import re

from distributor.articles import RelatedLink

__all__ = ["MD_LINK", "RELATED", "URL", "related_line", "unlink"]

MD_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
URL = re.compile(r"https?://\S+")
RELATED = re.compile(
    r"^(?P<open>[\[(]?)\s*(?:baca(?:\s+(?:juga|pula))?|lihat\s+juga|simak\s+(?:juga|pula)"
    r"|berita\s+terkait|artikel\s+terkait|read(?:\s+(?:also|more))?|also\s+read|see\s+also"
    r"|related(?:\s+(?:news|stories|story|articles?|coverage))?)\s*[:\-–—]\s*(?P<rest>.+)$",
    re.I,
)
_CLOSERS = {"(": ")", "[": "]"}
# "(Baca Juga Daebak! BTS ... )": in brackets, no colon
_BARE_RELATED = re.compile(
    r"^(?P<open>[\[(])\s*(?:baca\s+(?:juga|pula)|read\s+also|see\s+also)\s+(?P<rest>[^\]()]+"
    r"[\])])$", re.I)


_WHOLE_LINK = re.compile(r"^\[(?P<text>.+)\]\((?P<url>https?://[^)\s]+)\)$")


def related_line(line: str) -> RelatedLink | None:
    """The story a read-also line points to: "Baca juga: Judul", "[Read: Title](url)",
    "(Baca Juga Judul )"; None for any other line."""
    whole = _WHOLE_LINK.match(line)
    if whole:  # the whole line is one link: "[[Read: Title]](url)"
        inner = related_line(whole.group("text").strip())
        if inner is not None:
            return RelatedLink(title=inner.title, url=inner.url or whole.group("url"))
        return None
    match = RELATED.match(line) or _BARE_RELATED.match(line)
    if not match:
        return None
    rest = match.group("rest").strip()
    opener = match.group("open")
    if opener and rest.endswith(_CLOSERS[opener]):
        rest = rest[:-1].strip()
    link = MD_LINK.search(rest)
    if link:
        return RelatedLink(title=_clean_related_title(link.group(1)), url=link.group(2))
    url_match = URL.search(rest)
    url = url_match.group().rstrip(").,;") if url_match else None
    title = _clean_related_title(rest.replace(url_match.group(), "") if url_match else rest)
    if not title and not url:
        return None
    return RelatedLink(title=title or url or "", url=url)


def _clean_related_title(text: str) -> str:
    return text.strip(" -–—|:").strip("\"“”'‘’").strip()


def unlink(text: str) -> str:
    return MD_LINK.sub(r"\1", text)
