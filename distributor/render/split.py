"""Where news text may be broken: sentence ends, clause ends, spaces, and runs never broken.

Shared by the X thread splitter and the shortening of Telegram posts. A gap after a token is
rated SENTENCE, CLAUSE, WORD or GLUE; GLUE keeps numbers with what follows them ("3,5 persen",
"Rp 1.000"), abbreviations with what follows them ("Dr. Budi", "Jl. Sudirman", "a.n. Redaksi")
and a final "…" with its word. URLs are single tokens, so nothing breaks inside one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = [
    "ABBREVIATIONS",
    "CLAUSE",
    "ELLIPSIS",
    "GLUE",
    "SENTENCE",
    "WORD",
    "shorten",
    "tokenize",
]

ELLIPSIS = "…"


GLUE, WORD, CLAUSE, SENTENCE = 0, 1, 2, 3

#: abbreviations that end with a full stop without ending a sentence (lowercase, no final ".")
ABBREVIATIONS = frozenset({
    # Indonesian
    "dr", "drs", "dra", "prof", "ir", "h", "hj", "kh", "st", "msi", "mh", "mpd", "skom",
    "no", "jl", "jln", "gg", "kab", "kec", "kel", "prov", "rt", "rw", "a.n", "u.p", "d.a",
    "s.d", "dll", "dsb", "dst", "dkk", "tbk", "pt", "cv", "yth", "sdr", "sdri", "bpk", "bp",
    "kpd", "tgl", "hlm", "tel", "telp", "rp", "kol", "letkol", "mayjen", "brigjen", "jend",
    "kapt", "irjen", "kombes", "akbp", "pol",
    # English
    "mr", "mrs", "ms", "jr", "sr", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co", "corp",
    "mt", "ft", "gen", "gov", "sen", "rep", "sgt", "capt", "col", "lt", "u.s", "u.k",
    # months
    "jan", "feb", "mar", "apr", "jun", "jul", "agu", "agt", "aug", "sep", "sept", "okt",
    "oct", "nov", "des", "dec",
})

_OPENERS = "\"'“‘«([{"
_CLOSERS = "\"'”’»)]}"
_SENTENCE_END = re.compile(r"[.!?…]+[" + re.escape(_CLOSERS) + r"]*$")
_CLAUSE_END = re.compile(r"[,;:]+[" + re.escape(_CLOSERS) + r"]*$")
_DASHES = {"—", "–", "-", "--"}
_INITIALS = re.compile(r"^(?:\w\.)+$", re.UNICODE)
_NUMBER = re.compile(r"^[" + re.escape(_OPENERS) + r"]*[-+±~]?(?:rp\.?|us\$|\$|€|£|¥)?\d[\d.,]*"
                     r"(?:%|[.,]-)?$", re.IGNORECASE)
_CURRENCY = re.compile(r"^(?:rp\.?|us\$|\$|€|£|¥|idr|usd)$", re.IGNORECASE)
_URLISH = re.compile(r"^[" + re.escape(_OPENERS) + r"]*(?:https?://|www\.)\S+$", re.IGNORECASE)


def _is_abbreviation(token: str) -> bool:
    bare = token.lstrip(_OPENERS)
    if not bare.endswith("."):
        return False
    core = bare[:-1].lower()
    if core in ABBREVIATIONS:
        return True
    # initials and dotted abbreviations: "A.", "B.J.", "a.n.", "S.H."
    return bool(_INITIALS.match(bare)) and len(bare) <= 8


def _starts_sentence(token: str) -> bool:
    bare = token.lstrip(_OPENERS)
    if not bare:
        return True
    first = bare[0]
    return first.isupper() or first.isdigit() or not first.isalpha()


def _is_number(token: str) -> bool:
    return bool(_NUMBER.match(token)) and not _SENTENCE_END.search(token) \
        and not _CLAUSE_END.search(token)


def tokenize(text: str) -> tuple[list[str], list[int]]:
    """Split ``text`` at whitespace into tokens, and rate each gap between two tokens.

    ``breaks[i]`` is the gap after ``tokens[i]``: SENTENCE, CLAUSE, WORD or GLUE (never break).
    """
    tokens = text.split()
    breaks: list[int] = []
    for i, token in enumerate(tokens[:-1]):
        following = tokens[i + 1]
        if _URLISH.match(token):
            level = SENTENCE if re.search(r"[.!?]$", token) and _starts_sentence(following) \
                else WORD
        elif (_is_abbreviation(token) or _is_number(token) or _CURRENCY.match(token)
              or following == ELLIPSIS):
            level = GLUE
        elif _SENTENCE_END.search(token) and _starts_sentence(following):
            level = SENTENCE
        elif _CLAUSE_END.search(token) or _SENTENCE_END.search(token):
            level = CLAUSE
        elif token in _DASHES or following in _DASHES:
            level = CLAUSE if token in _DASHES else WORD
        else:
            level = WORD
        breaks.append(level)
    return tokens, breaks



def shorten(text: str, fits: Callable[[str], bool], *, min_fill: float = 0.5) -> str:
    """The longest beginning of ``text`` that ``fits``, ending in "…" when it is cut.

    Cut at the end of a sentence ("First sentence. …") when that keeps at least ``min_fill``
    of what a cut at a word ("First sentence. Second…") would keep; never inside a word, URL,
    number or abbreviation (except a single word longer than everything: by characters).
    Returns "" when not even "…" fits.
    """
    text = " ".join(text.split())
    if fits(text):
        return text
    tokens, breaks = tokenize(text)

    def at(end: int, level: int) -> str:
        head = tokens[:end]
        if level == SENTENCE:
            return " ".join([*head, ELLIPSIS])
        last = head[-1].rstrip(",;:—–-")
        return " ".join([*head[:-1], last + ELLIPSIS])

    def best(level: int) -> str | None:
        ends = [i + 1 for i, rated in enumerate(breaks) if rated >= level]
        found: str | None = None
        low, high = 0, len(ends) - 1
        while low <= high:
            mid = (low + high) // 2
            candidate = at(ends[mid], level)
            if fits(candidate):
                found, low = candidate, mid + 1
            else:
                high = mid - 1
        return found

    by_sentence = best(SENTENCE)
    by_word = best(WORD) or best(GLUE)
    if by_sentence and (by_word is None or len(by_sentence) >= min_fill * len(by_word)):
        return by_sentence
    if by_word:
        return by_word
    # the first word alone is too long: cut it by characters
    first = tokens[0] if tokens else ""
    low, high, found = 1, len(first) - 1, ""
    while low <= high:
        mid = (low + high) // 2
        candidate = first[:mid] + ELLIPSIS
        if fits(candidate):
            found, low = candidate, mid + 1
        else:
            high = mid - 1
    return found or (ELLIPSIS if fits(ELLIPSIS) else "")
