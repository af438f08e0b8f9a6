"""The feed source: RSS 0.9x/1.0/2.0 and Atom, over http(s) or from a local file.

Fetching is polite (conditional GET with the ETag and Last-Modified of the last poll, a
User-Agent, a size cap, a redirect limit, one overall timeout) and parsing is feedparser's, so
feeds in odd encodings are decoded the way feedparser does. Every problem with the feed as a
whole is a :class:`SourceError` with one line: what, where, what to do. A problem with one entry
becomes a line in :attr:`FetchResult.problems` and the other entries are still read.
"""

from __future__ import annotations

import asyncio
import email.utils
import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit
from urllib.request import url2pathname

import feedparser
import httpx

from distributor.articles import Article, content_hash
from distributor.config import FeedSourceConfig
from distributor.sources.base import FetchResult, SourceError, SourceState
from distributor.sources.directory import merge_tags
from distributor.text import (
    detect_language,
    first_image,
    html_to_text,
    normalize,
    parse_article_text,
    slugify,
)

__all__ = ["USER_AGENT", "canonical_url", "fetch_feed"]

USER_AGENT = "distributor/0.1 (+https://github.com/distributor/distributor)"
_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
           "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
_TRACKING_PARAMS = frozenset({"fbclid", "gclid", "igshid", "mc_cid", "mc_eid", "msclkid"})
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


@dataclass
class _Document:
    data: bytes
    content_type: str | None
    location: str  # where the document was finally read from: base of relative links


# --------------------------------------------------------------------------- fetching


def _is_http(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


def _local_path(url: str) -> Path:
    if url.lower().startswith("file:"):
        parts = urlsplit(url)
        return Path(url2pathname(unquote(parts.path)))
    return Path(url).expanduser()


async def fetch_feed(
    config: FeedSourceConfig,
    state: SourceState,
    *,
    site_language: str | None = None,
    now: datetime | None = None,
) -> FetchResult:
    """Fetch and parse the source's feed; entries older than ``max_age`` are ``backlog``."""
    now = now or datetime.now(UTC)
    result = FetchResult(state=state)
    if _is_http(config.url):
        document = await _fetch_http(config, state, result)
    else:
        document = await asyncio.to_thread(_read_local, config, state, result)
    if document is None:
        result.not_modified = True
        return result
    parsed = _parse(document, config.url)
    _read_entries(parsed, document.location, config, site_language, now, result)
    return result


def _read_local(
    config: FeedSourceConfig, state: SourceState, result: FetchResult
) -> _Document | None:
    path = _local_path(config.url)
    try:
        stat = path.stat()
        if not path.is_file():
            raise SourceError(f"feed {path} is not a file; point url: at the feed file")
        stamp = f'"{stat.st_size}-{stat.st_mtime_ns}"'
        if state.etag == stamp:
            return None
        if stat.st_size > config.max_bytes:
            raise _too_large(config)
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"feed file {path} does not exist; fix url: of source "
                          f"{config.name!r} (a relative path is read from the folder "
                          "distributor runs in)") from None
    except OSError as exc:
        raise SourceError(f"cannot read feed file {path} ({exc.strerror or exc}); check its "
                          "permissions") from None
    result.state = SourceState(etag=stamp,
                               last_modified=email.utils.formatdate(stat.st_mtime, usegmt=True))
    return _Document(data, None, path.resolve().as_uri())


def _too_large(config: FeedSourceConfig) -> SourceError:
    return SourceError(f"feed {config.url} is larger than {config.max_bytes} bytes; raise "
                       f"max_bytes of source {config.name!r} if it really is that big")


def _request_headers(config: FeedSourceConfig, state: SourceState) -> dict[str, str]:
    headers = {"User-Agent": config.user_agent or USER_AGENT, "Accept": _ACCEPT}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


async def _fetch_http(
    config: FeedSourceConfig, state: SourceState, result: FetchResult
) -> _Document | None:
    url = config.url
    seconds = config.timeout.total_seconds()
    try:
        async with asyncio.timeout(seconds), httpx.AsyncClient(
            timeout=seconds, follow_redirects=True, max_redirects=config.max_redirects
        ) as client, client.stream("GET", url, headers=_request_headers(config, state)) as response:
            return await _read_response(response, config, state, result)
    except (TimeoutError, httpx.TimeoutException):
        raise SourceError(f"no answer from {url} within {seconds:g} s; the next poll tries "
                          "again (raise timeout: if the server is always this slow)") from None
    except httpx.TooManyRedirects:
        raise SourceError(f"{url} redirects more than {config.max_redirects} times (a redirect "
                          "loop?); open it in a browser and put the feed's final address in "
                          "url:, or raise max_redirects") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise SourceError(f"{url} is not a usable feed address ({_one_line(exc)}); fix url: "
                          f"of source {config.name!r}") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"could not connect to {url}: {_one_line(exc)}; the next poll "
                          "tries again") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


async def _read_response(
    response: httpx.Response, config: FeedSourceConfig, state: SourceState,
    result: FetchResult,
) -> _Document | None:
    status = response.status_code
    if status == 304:
        result.state = SourceState(
            etag=response.headers.get("etag") or state.etag,
            last_modified=response.headers.get("last-modified") or state.last_modified)
        return None
    if status >= 300:
        raise SourceError(_status_message(config, response))
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > config.max_bytes:
        raise _too_large(config)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > config.max_bytes:
            raise _too_large(config)
        chunks.append(chunk)
    result.state = SourceState(etag=response.headers.get("etag"),
                               last_modified=response.headers.get("last-modified"))
    final = str(response.url)
    if any(r.status_code in (301, 308) for r in response.history) and final != config.url:
        result.problems.append(f"{config.url}: the feed moved permanently to {final}; put that "
                               f"address in url: of source {config.name!r}")
    return _Document(b"".join(chunks), response.headers.get("content-type"), final)


def _status_message(config: FeedSourceConfig, response: httpx.Response) -> str:
    status = response.status_code
    said = f"{config.url} answered HTTP {status} {response.reason_phrase}".rstrip()
    if status in (404, 410):
        return f"{said}; the feed is not at this address, fix url: of source {config.name!r}"
    if status in (401, 403):
        return (f"{said}; the server refuses the request: check the address, or whether it "
                "blocks bots (set user_agent: of the source)")
    if status == 429:
        return f"{said}; polled too often, make every: of source {config.name!r} longer"
    if status >= 500:
        return f"{said}; the server has a problem, the next poll tries again"
    if status < 400:
        return f"{said} without a redirect to follow; check the feed address"
    return f"{said}; check url: of source {config.name!r}"


# --------------------------------------------------------------------------- parsing


class _FeedLinks(HTMLParser):
    """``<link rel="alternate" type="application/rss+xml" href=...>`` of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: (v or "") for k, v in attrs}
        kind = values.get("type", "").lower()
        if (tag == "link" and "alternate" in values.get("rel", "").lower()
                and kind in ("application/rss+xml", "application/atom+xml") and values.get("href")):
            self.links.append(values["href"])


def _looks_like_html_page(document: _Document) -> bool:
    if document.content_type and "html" in document.content_type.lower():
        return True
    head = document.data[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _not_a_feed(document: _Document, url: str) -> SourceError:
    if _looks_like_html_page(document):
        finder = _FeedLinks()
        finder.feed(document.data[:200_000].decode("utf-8", "replace"))
        if finder.links:
            feed_url = urljoin(document.location, finder.links[0])
            return SourceError(f"not a feed: {url} is an HTML page; the page names its feed "
                               f"at {feed_url}, put that in url:")
        return SourceError(f"not a feed: {url} looks like an HTML page (a web page, a login "
                           "or an error page); put the address of the site's RSS or Atom feed "
                           "in url:")
    return SourceError(f"not a feed: {url} is neither RSS nor Atom; check that url: points at "
                       "the feed itself")


def _parse(document: _Document, url: str) -> Any:
    if not document.data.strip():
        raise SourceError(f"not a feed: {url} returned an empty document; check the address, "
                          "the next poll tries again")
    headers = {"content-location": document.location}
    if document.content_type:
        headers["content-type"] = document.content_type
    parsed = feedparser.parse(io.BytesIO(document.data), response_headers=headers)
    if parsed.entries:
        return parsed
    if parsed.get("version") and not parsed.get("bozo"):
        return parsed  # a well-formed feed that has no entries right now
    if parsed.get("version") and not _looks_like_html_page(document):
        error = parsed.get("bozo_exception")
        problem = _one_line(error) if isinstance(error, BaseException) else "broken XML"
        raise SourceError(f"broken feed at {url} ({problem}); the publisher must fix it, the "
                          "next poll tries again")
    raise _not_a_feed(document, url)


# --------------------------------------------------------------------------- entries


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
            if _is_http(absolute):
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
    if not _is_http(url):
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


def _read_entries(
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
                                   f"({type(exc).__name__}: {_one_line(exc)}); it was skipped")
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
