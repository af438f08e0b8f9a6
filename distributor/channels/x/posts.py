"""Posts as X shows them (links as t.co, ``& < >`` escaped, media links added), compared
with what was written."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def _as_posted(tweet: Mapping[str, Any]) -> str:
    """A post's text as it was written: X shows links as t.co links (the original is in
    ``entities.urls``), escapes ``& < >`` and adds a t.co link to attached media."""
    text = html.unescape(str(tweet.get("text") or ""))
    entities = tweet.get("entities")
    urls = entities.get("urls") if isinstance(entities, dict) else None
    for url in urls if isinstance(urls, list) else []:
        if not isinstance(url, dict) or not url.get("url"):
            continue
        media = url.get("media_key") or str(url.get("display_url") or "").startswith(
            ("pic.x.com", "pic.twitter.com"))
        text = text.replace(str(url["url"]), "" if media else str(url.get("expanded_url")
                                                                   or url["url"]))
    return text


def _comparable(text: str) -> str:
    """Text for comparison: NFC, whitespace collapsed, links without scheme or final slash."""
    def link(match: re.Match[str]) -> str:
        parts = urlsplit(match.group(0))
        rest = match.group(0).split("://", 1)[1][len(parts.netloc):]
        return parts.netloc.lower() + rest.rstrip("/")

    return " ".join(_URL.sub(link, unicodedata.normalize("NFC", text)).split())


def _replied_to(tweet: Mapping[str, Any]) -> str | None:
    for ref in tweet.get("referenced_tweets") or []:
        if isinstance(ref, dict) and ref.get("type") == "replied_to":
            return str(ref.get("id"))
    return None


def _created(tweet: Mapping[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(tweet["created_at"])).timestamp()
    except (KeyError, ValueError):
        return None

