"""An article's tags as hashtags the platforms link."""

from __future__ import annotations

import re

__all__ = ["hashtag", "hashtags"]

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def hashtag(tag: str) -> str | None:
    """A tag as a hashtag the platforms recognise: ``"Rusia China"`` -> ``#RusiaChina``.

    Letters, digits and underscores only; None when nothing usable remains (or only digits,
    which no platform links).
    """
    parts = [p for p in _NON_WORD.split(tag.strip().lstrip("#")) if p]
    if not parts:
        return None
    body = parts[0] if len(parts) == 1 else "".join(p[:1].upper() + p[1:] for p in parts)
    if body.replace("_", "").isdigit():
        return None
    return f"#{body}"


def hashtags(tags: list[str]) -> list[str]:
    """Distinct hashtags for ``tags``, in order (case-insensitively deduplicated)."""
    seen: set[str] = set()
    out: list[str] = []
    for tag in tags:
        tagged = hashtag(tag)
        if tagged and tagged.casefold() not in seen:
            seen.add(tagged.casefold())
            out.append(tagged)
    return out
