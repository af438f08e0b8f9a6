"""URL slugs: lowercase ASCII words joined by "-" (python-slugify), cut at a word."""

from __future__ import annotations

from slugify import slugify as _slugify

__all__ = ["slugify"]

#: apostrophes join a word's parts ("Jum'at" -> "jumat") instead of splitting it
_REPLACEMENTS = [["'", ""], ["’", ""], ["`", ""]]


def slugify(text: str, max_len: int = 80) -> str:
    """A lowercase ASCII slug: accents transliterated, other characters -> ``-``, cut at a
    word (a single word longer than ``max_len`` is cut by characters)."""
    slug = _slugify(text, replacements=_REPLACEMENTS)
    if len(slug) <= max_len:
        return slug
    if max_len <= 0:
        return ""
    cut = slug[:max_len]
    if slug[max_len] != "-" and "-" in cut:
        cut = cut[: cut.rfind("-")]
    return cut.strip("-")
