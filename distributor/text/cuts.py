"""Where news text may be cut: the one cutting rule of every renderer.

An X post, a Telegram caption or post, a digest card's summary and a digest subject all end
where a reader accepts an ending: a sentence end, else a clause end, else a space between two
words, and never inside a quotation, a number ("3,5 persen", "Rp 1.000"), an abbreviation and
what it belongs to ("Dr. Budi", "Jl. Sudirman"), a URL, or after a word that introduces the next
("yang", "sebagai", "of"). Only when nothing else fits is a
quotation cut (closed again after the "…"), then a number or abbreviation split from its word,
then a single word cut by characters.

Where a sentence ends (and which full stops are abbreviations) is not decided here:
:mod:`distributor.text.sentences` is the one place for that. This module adds what only cutting
needs: clause ends, quotations, numbers, URLs.

A gap after a token is rated, best first: SENTENCE, CLAUSE, WORD, then the same three inside a
quotation (QUOTED_SENTENCE, QUOTED_CLAUSE, QUOTED_WORD), then GLUE (never break, unless nothing
else fits).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from distributor.text.sentences import DANGLING_WORDS, ends_sentence, is_abbreviation

__all__ = [
    "CLAUSE",
    "ELLIPSIS",
    "END",
    "GLUE",
    "QUOTED_CLAUSE",
    "QUOTED_SENTENCE",
    "QUOTED_WORD",
    "SENTENCE",
    "TIERS",
    "WORD",
    "choose_end",
    "cut",
    "cut_tokens",
    "lede_excerpt",
    "sentences",
    "tokenize",
]

ELLIPSIS = "…"

GLUE, QUOTED_WORD, QUOTED_CLAUSE, QUOTED_SENTENCE, WORD, CLAUSE, SENTENCE = range(7)
#: the end of the text itself: better than any gap
END = 7
#: the order in which kinds of gaps are tried
TIERS = (SENTENCE, CLAUSE, WORD, QUOTED_SENTENCE, QUOTED_CLAUSE, QUOTED_WORD, GLUE)
_QUOTED = {SENTENCE: QUOTED_SENTENCE, CLAUSE: QUOTED_CLAUSE, WORD: QUOTED_WORD, GLUE: GLUE}
_SENTENCE_LIKE = (SENTENCE, QUOTED_SENTENCE, END)

_CLOSERS = "\"'”’»)]}"
_SENTENCE_END = re.compile(r"[.!?…]+[" + re.escape(_CLOSERS) + r"]*$")
_CLAUSE_END = re.compile(r"[,;:]+[" + re.escape(_CLOSERS) + r"]*$")
_DASHES = {"—", "–", "-", "--"}
_NUMBER = re.compile(r"^[\"'“‘«(\[{]*[-+±~]?(?:rp\.?|us\$|\$|€|£|¥)?\d[\d.,]*"
                     r"(?:%|[.,]-)?$", re.IGNORECASE)
_CURRENCY = re.compile(r"^(?:rp\.?|us\$|\$|€|£|¥|idr|usd)$", re.IGNORECASE)
_URLISH = re.compile(r"^[\"'“‘«(\[{]*(?:https?://|www\.)\S+$", re.IGNORECASE)

# --------------------------------------------------------------------------- quotations

#: opening double quotation marks and the mark that closes each
_QUOTE_PAIRS = {"“": "”", "„": "“", "«": "»", '"': '"', "”": "”"}
_AROUND = "([{"
_TRAILING = ".,;:!?…)]}"
#: a quotation longer than this many words is taken for a stray quotation mark
_LONGEST_QUOTE = 150


def _opens(token: str) -> str:
    """The closing mark of a quotation ``token`` opens ("" when it opens none)."""
    bare = token.lstrip(_AROUND)
    if len(bare) < 2 or bare[0] not in _QUOTE_PAIRS:
        return ""
    if bare[0] == "”":  # a closing mark used as an opening one (some portals)
        return "”"
    return _QUOTE_PAIRS[bare[0]]


def _closes(token: str, closer: str, *, opener_token: bool = False) -> bool:
    bare = token.rstrip(_TRAILING)
    if opener_token:
        # a one-word quotation: “kutipan” - the opening mark alone does not close it
        inner = token.lstrip(_AROUND)[1:].rstrip(_TRAILING)
        return inner.endswith(closer) and len(inner) > 1
    return bare.endswith(closer)


def _quoted_gaps(tokens: Sequence[str]) -> list[bool]:
    """``inside[i]``: the gap after ``tokens[i]`` lies inside a quotation. A mark that no
    closing mark matches within :data:`_LONGEST_QUOTE` words is no quotation."""
    n = len(tokens)
    inside = [False] * max(0, n - 1)
    # for each closing mark, the index of the next token that closes with it (n: none)
    following: dict[str, list[int]] = {}
    for closer in set(_QUOTE_PAIRS.values()):
        nearest, at = [n] * (n + 1), n
        for j in range(n - 1, -1, -1):
            if _closes(tokens[j], closer):
                at = j
            nearest[j] = at
        following[closer] = nearest
    i = 0
    while i < n - 1:
        closer = _opens(tokens[i])
        if not closer or _closes(tokens[i], closer, opener_token=True):
            i += 1
            continue
        end = following[closer][i + 1]
        if end >= n or end - i > _LONGEST_QUOTE:
            i += 1
            continue
        for gap in range(i, end):
            inside[gap] = True
        i = end + 1
    return inside


# --------------------------------------------------------------------------- rating gaps




def _is_number(token: str) -> bool:
    return bool(_NUMBER.match(token)) and not _SENTENCE_END.search(token) \
        and not _CLAUSE_END.search(token)


def _rate(token: str, following: str) -> int:
    if _URLISH.match(token):
        return SENTENCE if ends_sentence(token, following) else WORD
    if is_abbreviation(token) or _is_number(token) or _CURRENCY.match(token) \
            or following == ELLIPSIS:
        return GLUE
    if ends_sentence(token, following):
        return SENTENCE
    if _CLAUSE_END.search(token) or _SENTENCE_END.search(token) or token in _DASHES:
        return CLAUSE
    if token.lower() in DANGLING_WORDS:
        return GLUE  # a function word stays with the word it introduces
    return WORD


def tokenize(text: str, most: int | None = None) -> tuple[list[str], list[int]]:
    """Split ``text`` at whitespace into tokens, and rate each gap between two tokens.

    ``breaks[i]`` is the gap after ``tokens[i]``: one of SENTENCE, CLAUSE, WORD, their QUOTED_
    forms inside a quotation, or GLUE (never break). With ``most``, only the first ``most``
    tokens and the gaps after them are returned (rated as in the whole text).
    """
    tokens = text.split()
    if most is not None and len(tokens) > most + 1:
        # a quotation opened in the first ``most`` tokens closes within _LONGEST_QUOTE more
        tokens = tokens[:most + 1 + _LONGEST_QUOTE]
        breaks = [_rate(token, tokens[i + 1]) for i, token in enumerate(tokens[:most])]
        quoted = _quoted_gaps(tokens)[:most]
        tokens = tokens[:most]
    else:
        breaks = [_rate(token, tokens[i + 1]) for i, token in enumerate(tokens[:-1])]
        quoted = _quoted_gaps(tokens)
    for gap, inside in enumerate(quoted):
        if inside:
            breaks[gap] = _QUOTED[breaks[gap]]
    return tokens, breaks


def _sentence_runs(tokens: Sequence[str], breaks: Sequence[int]) -> list[str]:
    """The sentences that end at a SENTENCE gap of ``breaks``, then what follows the last."""
    out: list[str] = []
    start = 0
    for i, level in enumerate(breaks):
        if level == SENTENCE:
            out.append(" ".join(tokens[start:i + 1]))
            start = i + 1
    if start < len(tokens):
        out.append(" ".join(tokens[start:]))
    return out


def sentences(text: str) -> list[str]:
    """``text`` as its sentences, never split inside a quotation (whitespace collapsed)."""
    return _sentence_runs(*tokenize(text))


# --------------------------------------------------------------------------- choosing a cut


def choose_end(ends: Sequence[tuple[int, int]], fits: Callable[[int], bool],
               size: Callable[[int], float], *, min_fill: float) -> int | None:
    """The best of ``ends`` (``(end, rating)`` pairs in ascending order of ``end``) to stop at.

    ``fits(end)`` says whether stopping there fits (monotone: a later end never fits when an
    earlier one does not); ``size(end)`` how much it keeps. The last fitting end of the best
    kind (:data:`TIERS`, a kind includes every better one) is taken when it keeps at least
    ``min_fill`` of what the last fitting end between words keeps. None when no end fits.
    """
    known: dict[int, bool] = {}

    def fitting(end: int) -> bool:
        if end not in known:
            known[end] = fits(end)
        return known[end]

    def last(tier: int) -> int | None:
        candidates = [end for end, rating in ends if rating >= tier]
        low, high, found = 0, len(candidates) - 1, None
        while low <= high:
            mid = (low + high) // 2
            if fitting(candidates[mid]):
                found, low = candidates[mid], mid + 1
            else:
                high = mid - 1
        return found

    reference = next((e for e in (last(t) for t in (WORD, QUOTED_WORD, GLUE)) if e), None)
    if reference is None:
        return None
    least = min_fill * size(reference)
    for tier in TIERS:
        found = last(tier)
        if found is not None and size(found) >= least:
            return found
    return reference  # pragma: no cover - GLUE, the last tier, is the reference at worst


def _closing_mark(tokens: Sequence[str]) -> str:
    """The mark that closes the quotation open at the end of ``tokens``."""
    for token in reversed(tokens):
        closer = _opens(token)
        if closer:
            return closer
    return "”"


def _ending(tokens: Sequence[str], rating: int, *, mark_sentence: bool) -> str:
    """``tokens`` as the text of a cut after the last of them, gap rated ``rating``."""
    if rating in _SENTENCE_LIKE:
        text = " ".join(tokens)
        if rating == QUOTED_SENTENCE:
            return f"{text} {ELLIPSIS}{_closing_mark(tokens)}"
        return f"{text} {ELLIPSIS}" if mark_sentence else text
    last = tokens[-1].rstrip(",;:—–-") or tokens[-1]
    text = " ".join([*tokens[:-1], last + ELLIPSIS])
    if rating in (QUOTED_CLAUSE, QUOTED_WORD):
        text += _closing_mark(tokens)
    return text


def cut_tokens(tokens: Sequence[str], breaks: Sequence[int], fits: Callable[[str], bool], *,
               min_fill: float = 0.5, mark_sentence: bool = True,
               reach: int | None = None) -> str:
    """:func:`cut` of text already tokenized; only the first ``reach`` tokens are tried."""
    if not tokens:
        return ""
    stop = min(len(tokens) - 1, reach if reach is not None else len(tokens))
    texts: dict[int, str] = {}

    def text_at(end: int) -> str:
        if end not in texts:
            texts[end] = _ending(tokens[:end], breaks[end - 1], mark_sentence=mark_sentence)
        return texts[end]

    ends = [(end, breaks[end - 1]) for end in range(1, stop + 1)]
    chosen = choose_end(ends, lambda end: fits(text_at(end)), lambda end: len(text_at(end)),
                        min_fill=min_fill)
    if chosen is not None:
        return text_at(chosen)
    # the first word alone is too long: cut it by characters
    first = tokens[0]
    low, high, found = 1, len(first) - 1, ""
    while low <= high:
        mid = (low + high) // 2
        candidate = first[:mid] + ELLIPSIS
        if fits(candidate):
            found, low = candidate, mid + 1
        else:
            high = mid - 1
    return found or (ELLIPSIS if fits(ELLIPSIS) else "")


def cut(text: str, fits: Callable[[str], bool], *, min_fill: float = 0.5,
        mark_sentence: bool = True, reach: int | None = None) -> str:
    """The longest beginning of ``text`` that ``fits``, cut where a reader accepts it.

    Whitespace is collapsed. ``text`` itself when it fits. Else a cut at a sentence end ("First
    sentence. …"; without the "…" when ``mark_sentence`` is false), else at a clause end
    ("First clause…"), else between words ("First words…"): a better kind is taken when it
    keeps at least ``min_fill`` of what the cut between words keeps. Never inside a quotation,
    a number, an abbreviation or a URL unless nothing else fits; a single word longer than
    everything is cut by characters. "" when not even "…" fits. ``reach``: no cut after more
    than this many words can fit (a limit in characters is one), which saves rating the rest.
    """
    text = " ".join(text.split())
    if fits(text):
        return text
    tokens, breaks = tokenize(text, reach)
    return cut_tokens(tokens, breaks, fits, min_fill=min_fill, mark_sentence=mark_sentence)


def lede_excerpt(text: str, limit: int, *, most: int = 2) -> str:
    """The first ``most`` sentences of ``text`` that hold in ``limit`` characters (at least
    the first), whole, without "…"; a first sentence longer than ``limit`` is :func:`cut`."""
    text = " ".join(text.split())
    if not text:
        return ""
    tokens, breaks = tokenize(text, limit)
    runs = _sentence_runs(tokens, breaks)
    if len(breaks) == len(tokens) and breaks and breaks[-1] != SENTENCE:
        runs = runs[:-1]  # the text goes on past the tokens rated: the last run is no sentence
    chosen = ""
    for sentence in runs[:most]:
        candidate = f"{chosen} {sentence}".strip()
        if len(candidate) > limit:
            break
        chosen = candidate
    return chosen or cut(text, lambda candidate: len(candidate) <= limit, reach=limit)
