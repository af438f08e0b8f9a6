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
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from urllib.request import url2pathname

import feedparser
import httpx

from distributor.clock import utcnow
from distributor.config import FeedSourceConfig
from distributor.plugin.errors import retry_after_seconds
from distributor.plugin.http import tls_context
from distributor.sources.base import FetchResult, SourceBusy, SourceError, SourceState
from distributor.sources.encoding import bom_encoding, declared_xml_encoding, decode_text
from distributor.sources.feed_entries import canonical_url, is_http, one_line, read_entries

__all__ = ["USER_AGENT", "canonical_url", "fetch_feed"]

USER_AGENT = "distributor/0.1 (+https://github.com/distributor/distributor)"
#: the longest wait a feed's Retry-After can impose (a longer one is cut to this)
MAX_RETRY_AFTER = timedelta(hours=6)
_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
           "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")


@dataclass
class _Document:
    data: bytes
    content_type: str | None
    location: str  # where the document was finally read from: base of relative links


# --------------------------------------------------------------------------- fetching


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
    now = now or utcnow()
    result = FetchResult(state=state)
    if is_http(config.url):
        document = await _fetch_http(config, state, result, now)
    else:
        document = await asyncio.to_thread(_read_local, config, state, result)
    if document is None:
        result.not_modified = True
        return result
    parsed = _parse(document, config.url)
    cut = _entries_cut_off(document, parsed)
    if cut is not None:
        complete, problem = cut
        del parsed.entries[complete:]
        result.problems.append(f"{config.url}: {problem}")
        result.state = state  # not this copy's validators: the next poll reads it all again
    read_entries(parsed, document.location, config, site_language, now, result)
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
                          f"{config.name!r} (a relative path is read from the folder of the "
                          "configuration file)") from None
    except OSError as exc:
        raise SourceError(f"cannot read feed file {path} ({exc.strerror or exc}); check its "
                          "permissions") from None
    result.state = SourceState(etag=stamp,
                               last_modified=email.utils.formatdate(stat.st_mtime, usegmt=True))
    return _Document(data, None, path.resolve().as_uri())


def without_userinfo(url: str) -> str:
    """``url`` without the ``user:password@`` of its host part."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


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
    config: FeedSourceConfig, state: SourceState, result: FetchResult, now: datetime
) -> _Document | None:
    url = config.url
    seconds = config.timeout.total_seconds()
    try:
        async with asyncio.timeout(seconds), httpx.AsyncClient(
            timeout=seconds, follow_redirects=True, max_redirects=config.max_redirects,
            verify=tls_context(),  # one per process: making one reads the CA bundle (60-80 ms)
        ) as client, client.stream("GET", url, headers=_request_headers(config, state)) as response:
            return await _read_response(response, config, state, result, now)
    except (TimeoutError, httpx.TimeoutException):
        raise SourceError(f"no answer from {url} within {seconds:g} s; the next poll tries "
                          "again (raise timeout: if the server is always this slow)") from None
    except httpx.TooManyRedirects:
        raise SourceError(f"{url} redirects more than {config.max_redirects} times (a redirect "
                          "loop?); open it in a browser and put the feed's final address in "
                          "url:, or raise max_redirects") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise SourceError(f"{url} is not a usable feed address ({one_line(exc)}); fix url: "
                          f"of source {config.name!r}") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"could not connect to {url}: {one_line(exc)}; the next poll "
                          "tries again") from None



async def _read_response(
    response: httpx.Response, config: FeedSourceConfig, state: SourceState,
    result: FetchResult, now: datetime,
) -> _Document | None:
    status = response.status_code
    if status == 304:
        result.state = SourceState(
            etag=response.headers.get("etag") or state.etag,
            last_modified=response.headers.get("last-modified") or state.last_modified)
        return None
    if status >= 300:
        raise (_asked_to_wait(config, response, now)
               or SourceError(_status_message(config, response)))
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
    # the base of the entries' relative links: without a user and password the address may
    # carry (httpx sends them as Basic auth), or they would end up in every article's link
    final = without_userinfo(str(response.url))
    if any(r.status_code in (301, 308) for r in response.history) and \
            final != without_userinfo(config.url):
        result.problems.append(f"{config.url}: the feed moved permanently to {final}; put that "
                               f"address in url: of source {config.name!r}")
    return _Document(b"".join(chunks), response.headers.get("content-type"), final)


def _asked_to_wait(config: FeedSourceConfig, response: httpx.Response,
                   now: datetime) -> SourceBusy | None:
    """A 429 or 503 with a readable ``Retry-After`` (seconds or an HTTP date): the time before
    which the server wants no poll, :data:`MAX_RETRY_AFTER` at most."""
    seconds = retry_after_seconds(response.headers.get("retry-after"))
    if response.status_code not in (429, 503) or seconds is None:
        return None
    wait = min(timedelta(seconds=seconds), MAX_RETRY_AFTER)
    capped = (f" (it asked for {_duration(timedelta(seconds=seconds))}; "
              f"{_duration(MAX_RETRY_AFTER)} at most)" if wait < timedelta(seconds=seconds)
              else "")
    said = f"{config.url} answered HTTP {response.status_code} {response.reason_phrase}".rstrip()
    return SourceBusy(f"{said} with Retry-After: the server asks for a pause of "
                      f"{_duration(wait)}{capped}", now + wait)


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return " ".join(p for p in (f"{hours} h" if hours else "",
                                f"{minutes} min" if minutes else "") if p)


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


def _undeclared_to_utf8(document: _Document) -> _Document:
    """A feed that says nothing of its encoding (no charset, no ``encoding=``, no byte order
    mark) and is not UTF-8: its legacy encoding detected, the document handed on as UTF-8
    (feedparser would guess windows-1252 and garble a KOI8-R or Windows-1251 feed)."""
    media = (document.content_type or "").lower()
    if ("charset=" in media or declared_xml_encoding(document.data)
            or bom_encoding(document.data)):
        return document
    try:
        document.data.decode("utf-8")
        return document
    except UnicodeDecodeError:
        pass
    text = decode_text(document.data)
    if text is None:
        return document
    kind = (document.content_type or "application/xml").split(";")[0].strip()
    return _Document(text.encode("utf-8"), f"{kind}; charset=utf-8", document.location)


#: the end of a feed: its root element closed (RSS 2.0, Atom, RSS 1.0), anywhere in it (a
#: cache plugin's comment or a server's junk may follow)
_ROOT_END = re.compile(rb"</\s*(?:[\w.-]+:)?(?:rss|feed|rdf)\s*>", re.IGNORECASE)
_ENTRY_END = re.compile(rb"</\s*(?:[\w.-]+:)?(?:item|entry)\s*>", re.IGNORECASE)
_ENTRY_START = re.compile(rb"<\s*(?:[\w.-]+:)?(?:item|entry)[\s>/]", re.IGNORECASE)


def _entries_cut_off(document: _Document, parsed: Any) -> tuple[int, str] | None:
    """A feed that ends before its root element closes (a download broken off, a file the
    publisher is still writing), which feedparser's lenient parser reads anyway: how many
    entries are whole (those whose end tag is in the document) and one line saying so; None
    for a feed that ends where it should."""
    if not parsed.get("bozo") or not parsed.entries:
        return None
    data = document.data
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16: the tags are not single bytes
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeError:
            return None
    if _ROOT_END.search(data) or not _ENTRY_START.search(data):
        return None  # it ends where it should, or it cannot be judged (UTF-32, no BOM, ...)
    complete = min(len(parsed.entries), len(_ENTRY_END.findall(data)))
    left_out = len(parsed.entries) - complete
    what = (f"left out the last {left_out} entr{'y' if left_out == 1 else 'ies'}, cut off in "
            "the middle" if left_out else "every entry in it was whole")
    return complete, (f"the feed ends before its end (a download broken off, or a file still "
                      f"being written): read {complete} entr{'y' if complete == 1 else 'ies'}, "
                      f"{what}; the next poll reads the whole feed again")


def _parse(document: _Document, url: str) -> Any:
    if not document.data.strip():
        raise SourceError(f"not a feed: {url} returned an empty document; check the address, "
                          "the next poll tries again")
    document = _undeclared_to_utf8(document)
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
        problem = one_line(error) if isinstance(error, BaseException) else "broken XML"
        raise SourceError(f"broken feed at {url} ({problem}); the publisher must fix it, the "
                          "next poll tries again")
    raise _not_a_feed(document, url)
