"""Addresses as readers see them: a site's host name, a "Read more: URL" line."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["hostname", "link_line"]


def hostname(url: str | None) -> str:
    """``https://www.rinews.example/berita/x`` -> ``rinews.example``."""
    if not url:
        return ""
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    return host.removeprefix("www.")


def link_line(label: str, url: str, width: int = 72) -> str:
    """``"Read more: URL"`` for plain text, the URL on a line of its own when the whole would
    be wider than ``width`` (URLs are never wrapped)."""
    line = f"{label}: {url}"
    return line if len(line) <= width else f"{label}:\n{url}"
