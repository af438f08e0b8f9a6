"""Sentence boundaries and abbreviations: the one place that knows where a sentence ends.

Everything that splits or shortens news text (the parser's lede, derived headlines, the X
thread splitter, Telegram and digest cuts) asks this module. A sentence ends at ``. ! ? …``
(closing quotes and brackets included) before a word that may start a sentence, except after
an abbreviation ("Dr.", "Jl.", "No.", "a.n.", "Sept.") or an initial ("B.J.", "S.").
"""

from __future__ import annotations

import re

__all__ = [
    "ABBREVIATIONS",
    "CLOSERS",
    "OPENERS",
    "ends_sentence",
    "first_sentence",
    "is_abbreviation",
    "split_sentences",
    "starts_sentence",
]

#: abbreviations that end with a full stop without ending a sentence (lowercase, no final ".")
ABBREVIATIONS = frozenset({
    # Indonesian titles, ranks, addresses, units
    "a.n", "akbp", "akp", "bp", "bpk", "brigjen", "cv", "d.a", "dkk", "dll", "dr", "dra", "drg",
    "drs", "dsb", "dst", "gg", "h", "hj", "hlm", "ipda", "iptu", "ir", "irjen", "jend", "jl",
    "jln", "kab", "kapt", "kec", "kel", "kh", "kol", "kombes", "komjen", "kompol", "kpd",
    "laksda", "letjen", "letkol", "marsda", "mayjen", "mh", "mpd", "msi", "nn", "no", "ny",
    "pol", "prof", "prov", "pt", "rp", "rt", "rw", "s.d", "sdr", "sdri", "skom", "tbk", "tel",
    "telp", "tgl", "tn", "tsb", "u.p", "yth",
    # English
    "approx", "capt", "co", "col", "corp", "dept", "e.g", "etc", "ft", "gen", "gov", "i.e",
    "inc", "jr", "lt", "ltd", "mr", "mrs", "ms", "mt", "rep", "sen", "sgt", "sr", "st",
    "u.k", "u.s", "univ", "vs",
    # months (English and Indonesian)
    "jan", "feb", "mar", "apr", "jun", "jul", "agu", "agt", "aug", "sep", "sept", "okt",
    "oct", "nov", "des", "dec",
})

#: characters that open a quotation or an aside before a word
OPENERS = "\"'“‘«([{"
#: characters that close one after a word
CLOSERS = "\"'”’»)]}"

_END = re.compile(r"[.!?…]+[" + re.escape(CLOSERS) + r"]*$")
_INITIALS = re.compile(r"^(?:[^\W\d_]\.)+$")


def is_abbreviation(token: str) -> bool:
    """True for a word whose final full stop belongs to it: "Dr.", "Jl.", "a.n.", "B.J."."""
    bare = token.lstrip(OPENERS)
    if not bare.endswith(".") or bare.endswith(".."):
        return False
    core = bare[:-1].lower()
    return core in ABBREVIATIONS or (bool(_INITIALS.match(bare)) and len(bare) <= 8)


def starts_sentence(token: str) -> bool:
    """True when ``token`` may open a sentence: a capital, a digit, a quote or a bracket."""
    bare = token.lstrip(OPENERS)
    if not bare:
        return True
    first = bare[0]
    return first.isupper() or first.isdigit() or not first.isalpha()


def ends_sentence(token: str, following: str | None) -> bool:
    """True when a sentence ends after ``token`` (``following``: the next word, None at the
    end of the text)."""
    if not _END.search(token):
        return False
    if following is None:
        return True
    if not starts_sentence(following):
        return False
    return not is_abbreviation(token.rstrip(CLOSERS))


def split_sentences(text: str) -> list[str]:
    """``text`` as its sentences, whitespace collapsed, none broken at "Dr." "No." "Jl.",
    initials or "3,5"."""
    tokens = text.split()
    sentences: list[str] = []
    start = 0
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if following is None or ends_sentence(token, following):
            sentences.append(" ".join(tokens[start:index + 1]))
            start = index + 1
    return sentences


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (whitespace collapsed)."""
    tokens = text.split()
    for index, token in enumerate(tokens[:-1]):
        if ends_sentence(token, tokens[index + 1]):
            return " ".join(tokens[:index + 1])
    return " ".join(tokens)


#: words a cut must not leave hanging at the end ("… sebagai…", "… of the…"): a headline, a
#: post or a summary never ends on a word that introduces the next
DANGLING_WORDS = frozenset({
    "yang", "dan", "di", "ke", "dari", "untuk", "dengan", "atau", "pada", "dalam", "oleh",
    "serta", "bagi", "sebagai", "akan", "para", "sang", "bahwa", "karena", "tetapi", "the",
    "a", "an", "and", "or", "of", "to", "in", "on", "for", "with", "by", "at", "from", "as",
    "that",
})
