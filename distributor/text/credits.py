"""Bylines and credit lines: "Pewarta: A | Editor: B", "By NAME", "Oleh Name"."""

from __future__ import annotations

import re

__all__ = ["byline", "credit_line"]

_EDITOR_LABELS = ("editor", "redaktur", "penyunting", "edited by", "editing by")
_CREDIT_LABEL = re.compile(
    r"\b(?P<label>(?:written|reported|reporting|edited|editing) by)\b\s*:?"
    r"|\b(?P<label2>pewarta|penulis|reporter|wartawan|kontributor|oleh|author|writer|editor"
    r"|redaktur|penyunting)\s*:",
    re.I,
)
_BYLINE = re.compile(r"^(?:by|oleh)\s+(?P<name>[^\W\d_][\w.'’-]*(?:[ ,&]+[\w.'’-]+){0,5})$", re.I)
_NAME_CONNECTORS = frozenset({"dan", "and", "&", "bin", "binti", "van", "de", "der", "von", "al"})


def _is_name(name: str) -> bool:
    return 0 < len(name) <= 80 and len(name.split()) <= 10 and not name.endswith(("?", "!"))


def credit_line(line: str) -> dict[str, str] | None:
    """``{"author": ..., "editor": ...}`` for "Pewarta: A | Editor: B" style lines, else None."""
    matches = list(_CREDIT_LABEL.finditer(line))
    if not matches or matches[0].start() != 0:
        return None
    credits: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(line)
        name = line[match.end(): end].strip(" |;,.-–—")
        if not _is_name(name):
            return None
        label = (match.group("label") or match.group("label2")).lower()
        if label.endswith(" by") and not _capitalised(name):
            return None  # "Written by hand, ..." is prose
        credits.setdefault("editor" if label in _EDITOR_LABELS else "author", name)
    return credits


def byline(line: str) -> str | None:
    """The name in an unlabelled "By Name" / "Oleh Name" line."""
    match = _BYLINE.match(line)
    if not match:
        return None
    name = match.group("name").strip(" ,.")
    if not (_capitalised(name) and _is_name(name)):
        return None
    return _name_case(name)


def _name_case(name: str) -> str:
    """"NINIEK KARMINI" (wire bylines shout) -> "Niniek Karmini"; other names unchanged."""
    letters = [c for c in name if c.isalpha()]
    if len(letters) > 3 and all(c.isupper() for c in letters):
        return " ".join(w.capitalize() if len(w) > 3 or w.isalpha() else w
                        for w in name.split(" "))
    return name


def _capitalised(name: str) -> bool:
    words = [w for w in re.split(r"[ ,]+", name) if w]
    return bool(words) and all(w[0].isupper() or w.lower() in _NAME_CONNECTORS for w in words)
