"""Campaign tags on article links, per channel (pure): ``strip_params`` removes tracking
parameters that arrived with a link (feeds often carry ``utm_*``, ``fbclid``, ``gclid``), then
``utm`` adds the channel's own (``utm_source``, ``utm_medium``, ``utm_campaign``, ...; values may
use ``{channel}``, ``{date}`` and ``{slug}``), keeping the rest of the query and the fragment.

The runtime applies :func:`campaign_article` to every article a channel renders (posts,
digests, previews), so each channel's renderer sees the link as it should be posted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from distributor.articles import Article
from distributor.clock import utcnow
from distributor.config import DEFAULT_STRIP_PARAMS
from distributor.text import slugify

_UTM_KEYS = ("source", "medium", "campaign", "term", "content")


def _stripped(name: str, patterns: list[str]) -> bool:
    lowered = name.lower()
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern.endswith("*") and lowered.startswith(pattern[:-1]):
            return True
        if lowered == pattern:
            return True
    return False


def tag_url(url: str, *, strip: list[str] | None = None,
            utm: dict[str, str] | None = None) -> str:
    """``url`` without the parameters ``strip`` names, with ``utm`` (``utm_<key>`` = value)
    added after the rest of its query; its fragment stays. Not an http(s) URL: as it is."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _stripped(k, strip or [])]
    if utm:
        names = {f"utm_{k}" for k in utm}
        query = [(k, v) for k, v in query if k not in names]
        query += [(f"utm_{k}", v) for k, v in utm.items()]
    if not query and parts.query == "" and not utm:
        return url
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True)))


def utm_values(channel: Any, article: Article, now: datetime | None = None,
               tz: Any = None) -> dict[str, str]:
    """The channel's ``utm`` with ``{channel}``, ``{date}`` (YYYY-MM-DD, site time) and
    ``{slug}`` (the headline's) filled in; empty values left out."""
    utm = getattr(channel, "utm", None)
    if utm is None:
        return {}
    when = (now or utcnow())
    day = (when.astimezone(tz) if tz is not None else when).strftime("%Y-%m-%d")
    fields = {"channel": str(getattr(channel, "name", "")), "date": day,
              "slug": slugify(article.title or "", max_len=60)}
    values = {}
    for key in _UTM_KEYS:
        value = getattr(utm, key, None)
        if value:
            values[key] = str(value).format_map(_Fields(fields))
    return values


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:  # an unknown {field} stays as written
        return "{" + key + "}"


def campaign_article(article: Article, ctx: Any) -> Article:
    """The article as ``ctx.channel`` posts it: its link (and its related links) stripped of
    tracking parameters and tagged with the channel's UTM parameters."""
    channel = getattr(ctx, "channel", None)
    strip = list(getattr(channel, "strip_params", DEFAULT_STRIP_PARAMS) or [])
    site = getattr(ctx, "site", None)
    utm = utm_values(channel, article, getattr(ctx, "now", None),
                     getattr(site, "tz", None) if site is not None else None)
    if not strip and not utm:
        return article
    url = tag_url(article.url, strip=strip, utm=utm)
    related = [r.model_copy(update={"url": tag_url(r.url, strip=strip, utm=utm)})
               if r.url else r for r in article.related]
    if url == article.url and related == list(article.related):
        return article
    return article.model_copy(update={"url": url, "related": related})
