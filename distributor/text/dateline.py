"""Datelines and publication prefixes that open a lede.

"JAKARTA (ANTARA) -", "RI News Portal. Moscow —", "TRIBUNNEWS.COM, JAKARTA -", "KOMPAS.com-",
"Liputan6.com, Jakarta -", "(Antara/PRNewswire) --", "ISTANBUL, 23 Februari 2016
(Antara/PRNewswire) --", "TRIBUNSUMSEL.COM, SIDOARJO-Chacha ...", "BRUSSELS (Reuters) -Aon", and
a byline glued in front: "Editor Khairina KOMPAS.com- ...". The place is the dateline; the
publication alone is none; the lede is what follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from distributor.text.sentences import OPENERS as _OPENERS

__all__ = ["Dateline", "is_dateline_line", "is_place", "is_publication", "read_dateline",
           "split_dateline"]

_WORD = re.compile(r"[^\W\d_]+")

# "--", "—", "–" with or without spaces; "-" with a space on one side at least
_DATELINE_SEPARATOR = re.compile(r"\s*(?:--|—|–)\s*|\s+-\s*|(?<=\S)-\s+|(?<=[A-Z])-(?=[A-Z])")
_CAPS_COLON = re.compile(r"^([A-Z][A-Z .'-]{1,40}(?:\s*\([A-Za-z]{2,12}\))?):\s+")
_AGENCY = re.compile(r"\(([^()]{1,40})\)")
_DOMAIN = re.compile(r"\w\.(?:com|co|id|net|org|tv|news|info)\b", re.I)
#: words of publication and agency names (a table: add a newsroom's name here)
PUBLICATION_WORDS = frozenset({
    "afp", "antara", "ap", "bbc", "bernama", "beritasatu", "bisnis", "bloomberg", "cnbc",
    "cnn", "daily", "detik", "detikcom", "detiknews", "dw", "grid", "herald", "idntimes",
    "inews", "journal", "jpnn", "katadata", "kompas", "kontan", "kumparan", "kyodo", "liputan6",
    "mapay", "media", "merdeka", "news", "okezone", "online", "pikiran", "portal", "pos", "post",
    "prnewswire",
    "republika", "reuters", "sindonews", "suara", "tass", "tempo", "times", "tirto", "tribun",
    "tribune", "tribunnews", "viva", "voa", "xinhua", "yonhap",
})
#: words that open a caption or a rubric, never a place ("BERITA POPULER REGIONAL -")
_NOT_PLACES = frozenset({
    "berita", "populer", "breaking", "news", "update", "live", "foto", "video", "eksklusif",
    "exclusive", "info", "viral", "headline", "opini", "analisis", "editorial", "kolom",
})
_PLACE_WORD = re.compile(r"[^\W\d_][^\W\d]*(?:['’./-][^\W\d]*)*")  # "CIGONDONG/JAKARTA"
# "Editor Khairina KOMPAS.com": a credit glued in front of the publication
_GLUED_CREDIT = re.compile(
    r"^(?P<label>(?i:editor|penulis|reporter|pewarta|oleh))\s*:?\s+"
    r"(?P<name>[A-Z][a-z][\w.'-]*(?:\s+[A-Z][a-z][\w.'-]*){0,3})\s+(?=\S*\.[a-z]{2,4}\b|[A-Z]{3})")


@dataclass
class Dateline:
    """What opens a lede: the place (or None), whether a publication was named, the text
    after it and any credit glued in front."""

    place: str | None
    rest: str
    found: bool = False
    publication: bool = False
    credits: dict[str, str] = field(default_factory=dict)


def is_publication(part: str) -> bool:
    """True when ``part`` names a publication or agency ("KOMPAS.com", "Antara", "VOA")."""
    return bool(_DOMAIN.search(part)) or any(
        w.lower() in PUBLICATION_WORDS or (len(w) > 6 and w.lower().endswith("news"))
        for w in _WORD.findall(part))  # "VOINews", "Tribunnews"


def is_place(part: str) -> bool:
    """One to four capitalised words ("Moscow", "Rio de Janeiro", "St. Petersburg")."""
    words = part.split()
    if not 0 < len(words) <= 4 or not words[0][0].isupper():
        return False
    if any(w.lower() in _NOT_PLACES for w in words):
        return False
    return all(_PLACE_WORD.fullmatch(w) and (w[0].isupper() or len(w) <= 3) for w in words)


def _place_name(part: str) -> str:
    return part.title() if part.isupper() and len(part) > 3 else part


def _parse_prefix(prefix: str) -> tuple[bool, bool, str | None]:
    """(is a dateline prefix, names a publication, the place) for "RI News Portal. Moscow" or
    "Jakarta (ANTARA)"."""
    has_publication = False
    agency = _AGENCY.search(prefix)
    if agency and not (is_publication(agency.group(1))
                       or re.fullmatch(r"[A-Z]{2,6}", agency.group(1))):
        return False, False, None  # "(Jokowi)": an aside, not an agency
    if agency:
        has_publication = True
        prefix = (prefix[: agency.start()] + prefix[agency.end():]).strip(" ,")
    dot_separated = re.search(r"[^A-Z.\s]\.\s+", prefix) is not None
    places: list[str] = []
    for part in (p.strip() for p in re.split(r"\s*,\s*|(?<=[^A-Z.\s])\.\s+", prefix)):
        if not part:
            continue
        if len(part) > 40:
            return False, False, None  # prose, not a name
        if is_publication(part):
            has_publication = True
        elif is_place(part):
            places.append(part)
        elif not any(c.isdigit() for c in part):  # a date is fine, prose is not
            return False, False, None
    if not has_publication and len(places) == 2 and dot_separated:
        has_publication, places = True, places[1:]  # "Warta Kita. Bandung"
    if not has_publication and (len(places) != 1 or len(places[0].split()) > 3):
        return False, False, None
    return True, has_publication, ", ".join(_place_name(p) for p in places) or None


def _starts_text(rest: str) -> bool:
    return bool(rest) and (rest[0].isupper() or rest[0].isdigit() or rest[0] in _OPENERS)


def read_dateline(paragraph: str) -> Dateline:
    """The dateline and publication prefix of a lede, and the lede without them."""
    credits: dict[str, str] = {}
    text = paragraph
    glued = _GLUED_CREDIT.match(text)
    if glued:
        label = glued.group("label").lower()
        credits["editor" if label == "editor" else "author"] = glued.group("name")
        text = text[glued.end():]
    colon = _CAPS_COLON.match(text)  # "JAKARTA:", "JAKARTA (JP):"
    if colon:
        ok, publication, place = _parse_prefix(colon.group(1))
        if ok and _starts_text(text[colon.end():]):
            return Dateline(place, text[colon.end():], True, publication, credits)
    for match in _DATELINE_SEPARATOR.finditer(text, 0, 90):
        if match.start() == 0:
            continue
        prefix, rest = text[: match.start()].strip(), text[match.end():].strip()
        if not _starts_text(rest) or len(prefix) > 70 or any(q in prefix for q in "\"“”"):
            continue
        glued_dash = not match.group()[0].isspace() and match.group().strip() == "-"
        ok, publication, place = _parse_prefix(prefix)
        if ok and (publication or not glued_dash):  # "SIDOARJO-Chacha" needs "TRIBUN...COM,"
            return Dateline(place, rest, True, publication, credits)
        if match.group().strip() != "-":
            break  # the first dash of the paragraph was not a dateline's: nor is a later one
    return Dateline(None, paragraph)


def split_dateline(paragraph: str) -> tuple[str | None, str]:
    """Split a lede's publication prefix and dateline from its text.

    ``"RI News Portal. Moscow — Moskow dan ..."`` -> ``("Moscow", "Moskow dan ...")``;
    ``"KOMPAS.com - Presiden ..."`` -> ``(None, "Presiden ...")``. A paragraph without such a
    prefix comes back unchanged with ``None``.
    """
    found = read_dateline(paragraph)
    return found.place, found.rest


def is_dateline_line(line: str) -> bool:
    """True for a line that is only a dateline ("Jakarta -", "MAKASSAR, KOMPAS.com",
    "KOMPAS.com –", "TRIBUNNEWS.COM, JAKARTA -"), waiting for the lede on the next line."""
    line = line.strip()
    bare = re.sub(r"\s*(?:--|—|–|-)$", "", line).strip()
    if not bare or len(bare) > 70 or read_dateline(line).found:
        return False  # a dateline with its lede after it is the lede's line
    ok, publication, place = _parse_prefix(bare)
    # without a dash only a place with a publication ("MAKASSAR, KOMPAS.com"), not "Tribun"
    return ok and (bare != line or (publication and place is not None and bare.count(",") == 1))
