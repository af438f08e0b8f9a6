"""A feed's entries as Articles: the fullest text, the image, the date, the author, the key
(the entry's id, else its canonical link, else a hash of its text), the language. A problem with
one entry becomes a line in :attr:`FetchResult.problems`; the other entries are still read.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from distributor.articles import Article, content_hash
from distributor.config import FeedSourceConfig
from distributor.sources.base import FetchResult
from distributor.sources.file_fields import merge_tags
from distributor.text import (
    detect_language,
    first_image,
    html_to_text,
    normalize,
    parse_article_text,
    slugify,
)

__all__ = ["canonical_url", "is_http", "one_line", "read_entries"]

_TRACKING_PARAMS = frozenset({"fbclid", "gclid", "igshid", "mc_cid", "mc_eid", "msclkid"})
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


def is_http(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def canonical_url(url: str) -> str:
    """``url`` without its fragment and tracking parameters (``utm_*``, ``fbclid``...)."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS]
    netloc = parts.netloc.lower()
    scheme = parts.scheme.lower()
    if (scheme, netloc.rsplit(":", 1)[-1]) in (("http", "80"), ("https", "443")):
        netloc = netloc.rsplit(":", 1)[0]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def _language_code(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().replace("_", "-").split("-")[0].lower() or None


def _one_line_text(value: Any) -> str:
    return " ".join(html_to_text(value).split()) if isinstance(value, str) else ""


def _entry_html(entry: Any) -> tuple[str, bool]:
    """(the fullest text of the entry, whether it is HTML)."""
    candidates = [c for c in entry.get("content", []) if c.get("value")]
    if candidates:
        best = max(candidates, key=lambda c: len(c["value"]))
        return best["value"], best.get("type", "text/html") != "text/plain"
    detail = entry.get("summary_detail") or {}
    return entry.get("summary", ""), detail.get("type", "text/html") != "text/plain"


def _is_image(item: Any) -> bool:
    kind = (item.get("type") or "").lower()
    medium = (item.get("medium") or "").lower()
    url = (item.get("url") or item.get("href") or "").lower().split("?")[0]
    return kind.startswith("image/") or medium == "image" or (
        not kind and not medium and url.endswith(_IMAGE_SUFFIXES))


def _entry_image(entry: Any, base: str, html: str) -> str | None:
    found: list[str | None] = []
    found += [m.get("url") for m in entry.get("media_content", []) if _is_image(m)]
    found += [link.get("href") for link in entry.get("links", [])
              if link.get("rel") == "enclosure" and _is_image(link)]
    found += [m.get("url") for m in entry.get("media_thumbnail", [])]
    found.append(first_image(html, base_url=base) if html else None)
    for url in found:
        if url:
            absolute = urljoin(base, url.strip())
            if is_http(absolute):
                return absolute
    return None


def _entry_published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            return datetime(*value[:6], tzinfo=UTC)
    return None


def _entry_author(entry: Any) -> str | None:
    detail = entry.get("author_detail") or {}
    name = " ".join(str(detail.get("name") or entry.get("author") or "").split())
    return name or None


def _entry_key(entry: Any, url: str | None, headline: str, lede: str, body: list[str]) -> str:
    """The guid (or Atom id), else the link without tracking parameters, else a text hash."""
    guid = entry.get("id")
    if isinstance(guid, str) and guid.strip():
        return guid.strip()
    if url:
        return canonical_url(url)
    return "sha256:" + content_hash(headline, lede, *body)


class _EntryProblem(Exception):
    pass


def _entry_article(
    entry: Any, feed: Any, config: FeedSourceConfig, base: str, site_language: str | None,
    now: datetime,
) -> Article:
    title = _one_line_text(entry.get("title")) or None
    link = entry.get("link")
    url = urljoin(base, link.strip()) if isinstance(link, str) and link.strip() else None
    html, is_html = _entry_html(entry)
    size = len(html.encode("utf-8", "replace"))
    if size > config.max_article_bytes:
        raise _EntryProblem(f"is {size} bytes long, more than max_article_bytes "
                            f"({config.max_article_bytes}) of the source; it was skipped (raise "
                            "max_article_bytes if such entries are real)")
    # relative addresses inside the feed are relative to the feed document (feedparser has
    # already resolved those it knows about against it)
    text = html_to_text(html, base_url=base, links=True) if is_html else normalize(html)
    declared = _language_code(feed.get("language"))
    detected = detect_language(f"{title or ''}\n{text}", default="")
    if declared in ("id", "en") and detected:
        declared = detected  # a WordPress "en-US" on an Indonesian site
    language = config.language or declared or detected or site_language or "en"
    parsed = parse_article_text(text, language=language, title=title)
    if not parsed.headline:
        raise _EntryProblem("has neither a title nor any text; the entry was skipped")
    url = url or _url_from_template(config, parsed.headline, _entry_published(entry) or now)
    if not is_http(url):
        raise _EntryProblem(f"has the link {url!r}, which is not a web address; the entry was "
                            "skipped")
    return Article(
        source=config.name,
        key=_entry_key(entry, url, parsed.headline, parsed.lede, parsed.body),
        url=url,
        title=parsed.title or parsed.headline,
        title_derived=parsed.title is None,
        dateline=parsed.dateline,
        lede=parsed.lede,
        body=parsed.body,
        author=_entry_author(entry) or parsed.author,
        editor=parsed.editor,
        related=parsed.related,
        image=_entry_image(entry, base, html if is_html else ""),
        published=_entry_published(entry),
        first_seen=now,
        language=parsed.language,
        tags=merge_tags([t.get("term") or t.get("label") or "" for t in entry.get("tags", [])],
                        config.tags),
    )


def _url_from_template(config: FeedSourceConfig, headline: str, published: datetime) -> str:
    template = getattr(config, "url_template", None)
    if not template:
        raise _EntryProblem("has no link; the entry was skipped (the feed must give every item "
                            "a <link>)")
    slug = slugify(headline) or "article"
    return str(template).format_map(
        {"slug": slug, "stem": slug, "date": published.strftime("%Y/%m/%d")})


def read_entries(
    parsed: Any, base: str, config: FeedSourceConfig, site_language: str | None,
    now: datetime, result: FetchResult,
) -> None:
    seen: dict[str, str] = {}
    for number, entry in enumerate(parsed.entries, start=1):
        name = _one_line_text(entry.get("title"))[:60] or f"number {number}"
        try:
            article = _entry_article(entry, parsed.feed, config, base, site_language, now)
        except _EntryProblem as exc:
            result.problems.append(f"{config.url}: entry {name!r} {exc}")
            continue
        except Exception as exc:  # one odd entry must not hide the others
            result.problems.append(f"{config.url}: entry {name!r} could not be read "
                                   f"({type(exc).__name__}: {one_line(exc)}); it was skipped")
            continue
        if article.key in seen:
            if seen[article.key] != article.url:
                result.problems.append(
                    f"{config.url}: entry {name!r} has the same id as an earlier entry "
                    f"({article.key}); it was skipped (the feed's guids must be unique)")
            continue
        seen[article.key] = article.url
        if article.published is not None and article.published < now - config.max_age:
            article.backlog = True
        result.articles.append(article)
    result.articles.sort(key=lambda a: a.published or now)
