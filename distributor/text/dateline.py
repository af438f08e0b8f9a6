"""Datelines and publication prefixes: "JAKARTA (ANTARA) -", "RI News Portal. Moscow —"."""

from __future__ import annotations

import re

from distributor.text.sentences import OPENERS as _OPENERS

__all__ = ["split_dateline"]

_WORD = re.compile(r"[^\W\d_]+")

_DATELINE_SEPARATOR = re.compile(r"\s*(?:--|—|–)\s*|\s+-\s+")
_AGENCY = re.compile(r"\(([^()]{1,40})\)")
_DOMAIN = re.compile(r"\w\.(?:com|co|id|net|org|tv|news|info)\b", re.I)
_PUBLICATION_WORDS = frozenset({
    "afp", "antara", "ap", "bbc", "bernama", "beritasatu", "bisnis", "bloomberg", "cnbc",
    "cnn", "daily", "detik", "detikcom", "detiknews", "dw", "herald", "idntimes", "inews",
    "journal", "jpnn", "katadata", "kompas", "kontan", "kumparan", "kyodo", "liputan6",
    "media", "merdeka", "news", "okezone", "online", "portal", "pos", "post", "republika",
    "reuters", "sindonews", "suara", "tass", "tempo", "times", "tirto", "tribun", "tribune",
    "tribunnews", "viva", "voa", "xinhua", "yonhap",
})
_PLACE_WORD = re.compile(r"[^\W\d_][^\W\d]*(?:['’.-][^\W\d]*)*")


def _is_publication(part: str) -> bool:
    return bool(_DOMAIN.search(part)) or any(
        w.lower() in _PUBLICATION_WORDS for w in _WORD.findall(part))


def _is_place(part: str) -> bool:
    """One to four capitalised words ("Moscow", "Rio de Janeiro", "St. Petersburg")."""
    words = part.split()
    if not 0 < len(words) <= 4 or not words[0][0].isupper():
        return False
    return all(_PLACE_WORD.fullmatch(w) and (w[0].isupper() or len(w) <= 3) for w in words)


def _place_name(part: str) -> str:
    return part.title() if part.isupper() and len(part) > 3 else part


def _parse_prefix(prefix: str) -> tuple[bool, str | None]:
    """(is a dateline prefix, the place) for "RI News Portal. Moscow" / "Jakarta (ANTARA)"."""
    has_publication = False
    agency = _AGENCY.search(prefix)
    if agency:
        has_publication = True
        prefix = (prefix[: agency.start()] + prefix[agency.end():]).strip(" ,")
    dot_separated = re.search(r"[^A-Z.\s]\.\s+", prefix) is not None
    places: list[str] = []
    for part in (p.strip() for p in re.split(r"\s*,\s*|(?<=[^A-Z.\s])\.\s+", prefix)):
        if not part:
            continue
        if _is_publication(part):
            has_publication = True
        elif _is_place(part):
            places.append(part)
        elif not any(c.isdigit() for c in part):  # a date is fine, prose is not
            return False, None
    if not has_publication and len(places) == 2 and dot_separated:
        has_publication, places = True, places[1:]  # "Warta Kita. Bandung"
    if not has_publication and (len(places) != 1 or len(places[0].split()) > 3):
        return False, None
    return True, ", ".join(_place_name(p) for p in places) or None


def split_dateline(paragraph: str) -> tuple[str | None, str]:
    """Split a lede's publication prefix and dateline from its text.

    ``"RI News Portal. Moscow — Moskow dan ..."`` -> ``("Moscow", "Moskow dan ...")``;
    ``"KOMPAS.com - Presiden ..."`` -> ``(None, "Presiden ...")``. A paragraph without such a
    prefix comes back unchanged with ``None``.
    """
    match = _DATELINE_SEPARATOR.search(paragraph, 0, 90)
    if not match or match.start() == 0:
        return None, paragraph
    prefix, rest = paragraph[: match.start()].strip(), paragraph[match.end():].strip()
    if not rest or not (rest[0].isupper() or rest[0].isdigit() or rest[0] in _OPENERS):
        return None, paragraph
    if len(prefix) > 70 or any(q in prefix for q in "\"“”"):
        return None, paragraph
    ok, place = _parse_prefix(prefix)
    return (place, rest) if ok else (None, paragraph)
