"""A headline an editor could print, derived from a lede; text shortened at a word."""

from __future__ import annotations

import re
import unicodedata

from distributor.text.cuts import cut
from distributor.text.sentences import DANGLING_WORDS, first_sentence

__all__ = ["HEADLINE_MAX", "HEADLINE_MIN", "HEADLINE_TARGET", "derive_headline", "shorten"]

#: what a derived headline aims at: at most this many characters
HEADLINE_TARGET = 90
#: longest derived headline, "…" included (a whole clause may pass the target)
HEADLINE_MAX = 110
#: shortest headline a cut at a clause or phrase may leave
HEADLINE_MIN = 30



def shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, "…" included, cut by the one cutting rule
    (:func:`distributor.text.cuts.cut`: a sentence, else a clause, else a word)."""
    return cut(text, lambda candidate: len(candidate) <= limit)


def derive_headline(lede: str, max_len: int = HEADLINE_MAX, target: int = HEADLINE_TARGET) -> str:
    """A headline an editor could print, from the lede's first sentence.

    The sentence loses its final full stop, emoji and short asides ("(TransJakarta)",
    ", Jakarta Timur,", a closing ", Kamis (26/11/2026)"). At most ``target`` characters, it is
    the headline. Otherwise, in this order of preference:

    1. a cut where a clause ends (at ``; : —``, at the first comma, or before a word opening a
       subordinate clause: "yang", "setelah", "which", "after" ...), ``target`` characters at
       most and half of that at least;
    2. the whole sentence, if it has at most ``max_len`` characters;
    3. such a clause, up to ``max_len`` characters;
    4. a cut before a preposition ("dalam", "sebagai", "in" ...), up to ``max_len``;
    5. the sentence cut at a word, with "…", at ``target`` characters.

    No cut is made inside an aside opened by a comma, nor leaves a dangling "dan" or "the".
    """
    compact = _compact(_strip_final_stop(first_sentence(lede)))
    if len(compact) <= target:
        return compact
    cuts = _headline_cuts(compact, max_len)

    def longest(strength: int, limit: int, least: int) -> str | None:
        found = [text for text, rated in cuts if rated == strength and least <= len(text) <= limit]
        return max(found, key=len) if found else None

    half = max(HEADLINE_MIN, target // 2)
    return (longest(_CUT_CLAUSE, target, half)
            or (compact if len(compact) <= max_len else None)
            or longest(_CUT_CLAUSE, max_len, HEADLINE_MIN)
            or longest(_CUT_PHRASE, max_len, half)
            or longest(_CUT_PHRASE, target, HEADLINE_MIN)
            or shorten(compact, target))


def _strip_final_stop(sentence: str) -> str:
    if sentence.endswith(".."):
        return sentence
    return re.sub(r"\.([\"”’')\]]*)$", r"\1", sentence)


_PARENTHETICAL = re.compile(r"\s*\([^()]{1,40}\)(?=[\s,.;:!?]|$)")
# ", Jakarta Timur," between a name and a lowercase word: an aside naming a place
_APPOSITIVE = re.compile(
    r"(?<=[^\W\d_]), ((?:[A-Z][\w.'’-]*|di|de|da|van|al)(?: (?:[A-Z][\w.'’-]*|di|de|da)){0,3}),"
    r" (?=(?!(?:dan|atau|serta|and|or|nor)\b)[a-z])")


# "..., Kamis (26/11/2026)." closing an Indonesian lede: the day, which a headline drops
_TRAILING_DAY = re.compile(
    r",\s*(?:senin|selasa|rabu|kamis|jumat|jum'at|sabtu|minggu|ahad|monday|tuesday|wednesday"
    r"|thursday|friday|saturday|sunday)(?:\s+(?:pagi|siang|sore|malam|lalu))?\s*$", re.I)


def _without_pictographs(text: str) -> str:
    """``text`` without emoji and other pictographs (with their joiners and modifiers)."""
    kept = [c for c in text
            if not (c >= "\u2190" and unicodedata.category(c) in ("So", "Sk", "Cs"))
            and c not in "\u200d\ufe0f\u20e3"]
    return " ".join("".join(kept).split())


def _compact(sentence: str) -> str:
    """``sentence`` without short parentheticals, place asides, a closing weekday and
    emoji."""
    text = _PARENTHETICAL.sub("", _without_pictographs(sentence))
    text = _APPOSITIVE.sub(" ", text)
    text = _TRAILING_DAY.sub("", " ".join(text.split()))
    return text


_CUT_CLAUSE, _CUT_PHRASE = 2, 1
#: words that open a subordinate clause: a headline may end before them
_CLAUSE_WORDS = frozenset({
    "yang", "karena", "lantaran", "sebab", "setelah", "sesudah", "sebelum", "sejak", "sehingga",
    "ketika", "saat", "sewaktu", "sambil", "seraya", "seiring", "menyusul", "usai", "meski",
    "meskipun", "walau", "walaupun", "kendati", "agar", "supaya", "namun", "tetapi", "tapi",
    "sementara", "sedangkan", "padahal", "demi", "jika", "apabila", "bila",
    "which", "who", "whose", "whom", "after", "while", "when", "because", "amid", "following",
    "despite", "although", "though", "since", "before", "saying", "but", "whereas", "where",
    "until", "unless", "if",
})
#: prepositions that open a phrase a headline can do without
_PHRASE_WORDS = frozenset({
    "di", "ke", "dari", "dalam", "pada", "dengan", "untuk", "oleh", "sebagai", "terhadap",
    "tentang", "mengenai", "antara", "selama", "hingga", "sampai", "bagi", "kepada", "melalui",
    "lewat", "menurut", "atas", "mulai", "jelang", "menjelang", "tanpa", "senilai", "sebesar",
    "in", "on", "at", "with", "for", "from", "by", "during", "over", "into", "under",
    "against", "about", "according", "as", "near", "across", "through", "without", "toward",
    "towards", "ahead",
})
_CUT_WORD = re.compile(r"\S+")


def _headline_cuts(text: str, max_len: int) -> list[tuple[str, int]]:
    """(beginning of ``text``, how natural an end it is) for every place a headline may end.

    A comma ends a clause only the first time (later ones are lists and asides); no cut is
    made inside an aside opened by a comma ("Widodo, speaking in Jakarta, said ...").
    """
    cuts: list[tuple[str, int]] = []
    words = list(_CUT_WORD.finditer(text[: max_len + 40]))
    commas = 0
    for index in range(1, len(words)):
        previous, word = words[index - 1].group(), words[index].group()
        bare = word.lower().strip("\"“”'‘’(")
        if previous.endswith(","):
            commas += 1
        ends_clause = previous.endswith((";", ":")) or previous in _DASH_WORDS or (
            previous.endswith(",") and commas == 1)
        if ends_clause or bare in _CLAUSE_WORDS:
            strength = _CUT_CLAUSE
        elif bare in _PHRASE_WORDS:
            strength = _CUT_PHRASE
        else:
            continue
        head = text[: words[index - 1].end()]
        if not _inside_aside(head):
            head = _tidy_end(head)
            if head:
                cuts.append((head, strength))
    return cuts


_DASH_WORDS = frozenset({"—", "–", "-", "--"})
_LIST_WORDS = frozenset({"dan", "atau", "serta", "and", "or"})


def _inside_aside(head: str) -> bool:
    """True when ``head`` ends in an aside a comma opened and none closed yet."""
    parts = head.rstrip(",").split(", ")
    if len(parts) % 2 == 1:
        return False
    last = parts[-1].split(" ", 1)[0]
    return bool(last) and last[0].islower() and last.lower() not in _LIST_WORDS


def _tidy_end(head: str) -> str:
    """A headline's end: no trailing punctuation, dash or dangling word ("dan", "the")."""
    words = head.rstrip(" ,;:-–—").split(" ")
    while len(words) > 2 and words[-1].lower().strip(",;:") in DANGLING_WORDS:
        words.pop()
    head = " ".join(words).rstrip(" ,;:-–—")
    # an unbalanced opening quote or bracket would be left dangling
    for opener, closer in (("(", ")"), ("“", "”"), ("[", "]")):
        if head.count(opener) > head.count(closer):
            return ""
    if head.count('"') % 2:
        return ""
    return head
