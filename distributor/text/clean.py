"""Whitespace and invisible characters tidied the way a copy editor would."""

from __future__ import annotations

import re

__all__ = ["normalize", "split_paragraphs"]

_ODD_SPACES = re.compile(r"[\t\v\f\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_INVISIBLE = re.compile(r"[\u00ad\u200b\u2060\ufeff]")  # soft hyphen, zero-width space, BOM
_MULTI_SPACE = re.compile(r" {2,}")
# not before "...": a space before an ellipsis marks a cut ("anak Gunung ...")
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,;:!?)\]]|\.(?!\.\.))")
_SPACE_AFTER_OPEN = re.compile(r"(?<=[(\[]) +")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def normalize(text: str) -> str:
    """Tidy whitespace the way a copy editor would, keeping the line structure.

    CRLF and CR become LF; no-break and other odd spaces become plain spaces; invisible
    characters (zero-width space, BOM, soft hyphen) go; runs of spaces collapse; every line is
    trimmed; spaces before ``, . ; : ! ? ) ]`` and after ``( [`` go; at most one blank line
    separates two lines.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = _ODD_SPACES.sub(" ", text)
    lines = []
    for line in text.split("\n"):
        line = _MULTI_SPACE.sub(" ", line)
        line = _SPACE_BEFORE_PUNCT.sub("", line)
        line = _SPACE_AFTER_OPEN.sub("", line)
        lines.append(line.strip())
    return _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def split_paragraphs(text: str) -> list[str]:
    """Every non-empty line is a paragraph (portals write one paragraph per line)."""
    return [line for line in normalize(text).split("\n") if line]
