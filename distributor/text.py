"""Newsroom text: clean it, turn feed HTML into it, and understand an article's parts.

Everything here is a pure function of its arguments. The one entry point sources use is
:func:`parse_article_text`, which reads a story written the way news portals write them (one
paragraph per line, see ``shared/seed``) and separates the title, the dateline, the lede, the
body, the byline, the editor and the "Baca juga" (read also) links.

Text passed between these functions uses one convention: one paragraph per line. Links that must
survive (those of "Baca juga" lines) travel as Markdown links, ``[title](https://...)``;
:func:`parse_article_text` turns every other link back into its plain text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

from distributor.articles import RelatedLink

__all__ = [
    "HEADLINE_MAX",
    "HEADLINE_MIN",
    "HEADLINE_TARGET",
    "TITLE_MAX",
    "ParsedText",
    "derive_headline",
    "detect_language",
    "first_image",
    "first_sentence",
    "html_to_text",
    "looks_like_html",
    "markdown_to_text",
    "normalize",
    "parse_article_text",
    "shorten",
    "slugify",
    "split_dateline",
    "split_paragraphs",
]

#: longest first line that can still be a title (Contract 4: "one short line")
TITLE_MAX = 120
#: what a derived headline aims at: at most this many characters
HEADLINE_TARGET = 90
#: longest derived headline, "…" included (a whole clause may pass the target)
HEADLINE_MAX = 110
#: shortest headline a cut at a clause or phrase may leave
HEADLINE_MIN = 30

# --------------------------------------------------------------------------- normalize

_ODD_SPACES = re.compile(r"[\t\v\f\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_INVISIBLE = re.compile(r"[\u00ad\u200b\u2060\ufeff]")  # soft hyphen, zero-width space, BOM
_MULTI_SPACE = re.compile(r" {2,}")
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,.;:!?)\]])")
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


# --------------------------------------------------------------------------- HTML

_HTML_TAG = re.compile(
    r"<(?:[a-zA-Z][a-zA-Z0-9]*(?:\s[^>]*)?/?|/[a-zA-Z][a-zA-Z0-9]*\s*|!--.*?--)>", re.S)
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "center", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "tfoot", "thead", "tr", "ul",
})
_CELL_TAGS = frozenset({"td", "th"})
# figcaption: a photo's caption and credit ("Foto: Dok. Warner") is no paragraph of the story
_SKIP_TAGS = frozenset({
    "figcaption", "head", "iframe", "noscript", "object", "script", "select", "style", "svg",
    "template", "textarea", "title",
})
_WHITESPACE = re.compile(r"\s+")


def looks_like_html(text: str) -> bool:
    """True when ``text`` contains at least one HTML tag or comment."""
    return _HTML_TAG.search(text) is not None


class _HTMLText(HTMLParser):
    def __init__(self, base_url: str | None, links: bool):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.images: list[str] = []
        self._base = base_url
        self._links = links
        self._skip = 0
        self._anchors: list[tuple[int, str | None]] = []

    def _absolute(self, url: str | None) -> str | None:
        if not url:
            return None
        url = url.strip()
        if url.startswith("data:"):
            return None
        if self._base:
            url = urljoin(self._base, url)
        return url if url.startswith(("http://", "https://")) else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif self._skip:
            return
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")
        elif tag == "a":
            self._anchors.append((len(self.parts), self._absolute(dict(attrs).get("href"))))
        elif tag == "img":
            self._image(dict(attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP_TAGS and tag != "a":
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif self._skip:
            return
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag == "a" and self._anchors:
            self._close_anchor(*self._anchors.pop())

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(_WHITESPACE.sub(" ", data))

    def _image(self, attrs: dict[str, str | None]) -> None:
        if attrs.get("width") == "1" or attrs.get("height") == "1":
            return  # tracking pixel
        src = self._absolute(attrs.get("src") or attrs.get("data-src"))
        if src:
            self.images.append(src)

    def _close_anchor(self, start: int, href: str | None) -> None:
        text = "".join(self.parts[start:]).strip()
        if not (self._links and href and text) or "\n" in text or text == href:
            return
        self.parts[start:] = [f"[{text}]({href})"]

    def text(self) -> str:
        return "\n\n".join(split_paragraphs("".join(self.parts)))


def html_to_text(html_text: str, *, base_url: str | None = None, links: bool = False) -> str:
    """Feed HTML -> clean text, one paragraph per line, paragraphs separated by blank lines.

    ``<p>``, ``<div>``, ``<br>``, list items, headings and table rows break paragraphs;
    entities are decoded; ``<script>``, ``<style>`` and the like are dropped. With
    ``links=True`` links with an absolute (or, given ``base_url``, resolvable) address are kept
    as Markdown links ``[text](url)``. Text without any tag is treated as plain text whose lines
    are paragraphs.
    """
    if not looks_like_html(html_text):
        return "\n\n".join(split_paragraphs(html.unescape(html_text)))
    parser = _HTMLText(base_url, links)
    parser.feed(html_text)
    parser.close()
    return parser.text()


def first_image(html_text: str, *, base_url: str | None = None) -> str | None:
    """The address of the first real ``<img>`` in ``html_text`` (no tracking pixels)."""
    parser = _HTMLText(base_url, links=False)
    parser.feed(html_text)
    parser.close()
    return parser.images[0] if parser.images else None


# --------------------------------------------------------------------------- Markdown

_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_MD_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_ITALIC = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_MD_CODE = re.compile(r"`([^`]*)`")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>])")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*$")
_MD_LIST_ITEM = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
_MD_QUOTE = re.compile(r"^>\s?(.*)$")
_MD_RULE = re.compile(r"^(?:-{3,}|\*{3,}|_{3,})$")
_MD_FENCE = re.compile(r"^(```|~~~)")
_TERMINAL = ('.', '!', '?', ':', '"', '”', '’', ')', '…')


def _md_inline(line: str) -> str:
    line = _MD_IMAGE.sub("", line)
    line = _MD_AUTOLINK.sub(r"\1", line)
    line = _MD_CODE.sub(r"\1", line)
    line = _MD_BOLD.sub(r"\2", line)
    line = _MD_ITALIC.sub(r"\2", line)
    return _MD_ESCAPE.sub(r"\1", line).strip()


def _md_line(line: str) -> tuple[str, bool]:
    """(text of the line, whether it stands on its own rather than continuing a paragraph)."""
    for pattern in (_MD_HEADING, _MD_LIST_ITEM, _MD_QUOTE):
        match = pattern.match(line)
        if match:
            return match.group(1), True
    alone = bool(_RELATED.match(line) or _credit_line(line))
    return line, alone


def _hard_wrapped(lines: list[str]) -> bool:
    """True for a block of lines wrapped inside one paragraph (as editors' Markdown often is).

    Lines of portal text are whole paragraphs: long, or each ending a sentence.
    """
    if len(lines) < 2 or any(len(line) > TITLE_MAX for line in lines):
        return False
    return not all(line.endswith(_TERMINAL) for line in lines[:-1])


def markdown_to_text(markdown: str) -> str:
    """Markdown -> one paragraph per line (links kept as ``[text](url)``, images dropped).

    Headings, list items and quotes become paragraphs of their own; lines wrapped inside one
    paragraph are joined; a block that already has one paragraph per line (portal style) keeps
    its lines.
    """
    paragraphs: list[str] = []
    block: list[tuple[str, bool]] = []

    def flush() -> None:
        plain = [text for text, alone in block if not alone]
        join = _hard_wrapped(plain)
        current: list[str] = []
        for text, alone in block:
            if alone or not join:
                paragraphs.extend([" ".join(current)] if current else [])
                current = []
                paragraphs.append(text)
            else:
                current.append(text)
        if current:
            paragraphs.append(" ".join(current))
        block.clear()

    for raw in normalize(markdown).split("\n"):
        if not raw or _MD_RULE.match(raw) or _MD_FENCE.match(raw):
            flush()
            continue
        text, alone = _md_line(raw)
        text = _md_inline(text)
        if text:
            block.append((text, alone))
    flush()
    return "\n".join(p for p in paragraphs if p)


# --------------------------------------------------------------------------- slugs

_TRANSLITERATE = str.maketrans({
    "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "đ": "d",
    "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D", "ı": "i",
})
_APOSTROPHES = re.compile(r"['’`]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_len: int = 80) -> str:
    """A lowercase ASCII slug: accents stripped, other characters -> ``-``, cut at a word."""
    ascii_text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
    ascii_text = ascii_text.encode("ascii", "ignore").decode("ascii").lower()
    slug = _NOT_ALNUM.sub("-", _APOSTROPHES.sub("", ascii_text)).strip("-")
    if len(slug) <= max_len:
        return slug
    if max_len <= 0:
        return ""
    cut = slug[:max_len]
    if slug[max_len] != "-" and "-" in cut:
        cut = cut[: cut.rfind("-")]
    return cut.strip("-")


# --------------------------------------------------------------------------- sentences

_ABBREVIATIONS = frozenset({
    # Indonesian titles, ranks, addresses and Latin-ish abbreviations
    "a.n", "akbp", "akp", "bpk", "brigjen", "cv", "dkk", "dll", "dr", "dra", "drg", "drs",
    "dsb", "dst", "h", "hj", "ipda", "iptu", "ir", "irjen", "jend", "jl", "jln", "kab", "kapt",
    "kec", "kel", "kol", "kombes", "komjen", "kompol", "laksda", "letjen", "marsda", "mayjen",
    "no", "nn", "ny", "prof", "prov", "pt", "rp", "sdr", "sdri", "tbk", "tn", "tsb", "yth",
    # English
    "approx", "capt", "co", "col", "corp", "dept", "etc", "gen", "gov", "inc", "jr", "lt", "ltd",
    "mr", "mrs", "ms", "mt", "rep", "sen", "sgt", "sr", "st", "univ", "vs",
    "jan", "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})
_SENTENCE_END = re.compile(r"[.!?…]+[\"”’')\]]*(?=\s|$)")
_OPENERS = "\"“‘'([«"


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    rest = text[match.end():].lstrip()
    if not rest:
        return True
    following = rest[0]
    if not (following.isupper() or following.isdigit() or following in _OPENERS):
        return False
    if not match.group().startswith(".") or match.group().startswith(".."):
        return True
    words = text[: match.start()].split()
    word = words[-1].lstrip(_OPENERS) if words else ""
    is_initial = len(word) == 1 and word.isalpha()
    return not (word.lower() in _ABBREVIATIONS or "." in word or is_initial)


def first_sentence(text: str) -> str:
    """The first sentence of ``text``, not broken at "Dr." "No." "Jl." initials or "3,5"."""
    text = " ".join(text.split())
    for match in _SENTENCE_END.finditer(text):
        if _ends_sentence(text, match):
            return text[: match.end()]
    return text


_DANGLING = frozenset({
    "yang", "dan", "di", "ke", "dari", "untuk", "dengan", "atau", "pada", "dalam", "oleh",
    "serta", "bagi", "sebagai", "akan", "para", "sang", "the", "a", "an", "and", "or", "of",
    "to", "in", "on", "for", "with", "by", "at", "from", "as", "that",
})


def shorten(text: str, limit: int, ellipsis: str = "…") -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, ``ellipsis`` included."""
    if len(text) <= limit:
        return text
    room = limit - len(ellipsis)
    cut = text[: room + 1]
    words = cut[:room].split(" ") if " " in cut[:room] else [text[:room]]
    if cut[-1] != " " and len(words) > 1:
        words = words[:-1]  # the last word was cut through
    while len(words) > 2 and words[-1].lower().strip(",;:") in _DANGLING:
        words.pop()
    return " ".join(words).rstrip(" ,;:-–—(\"“'") + ellipsis


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
    while len(words) > 2 and words[-1].lower().strip(",;:") in _DANGLING:
        words.pop()
    head = " ".join(words).rstrip(" ,;:-–—")
    # an unbalanced opening quote or bracket would be left dangling
    for opener, closer in (("(", ")"), ("“", "”"), ("[", "]")):
        if head.count(opener) > head.count(closer):
            return ""
    if head.count('"') % 2:
        return ""
    return head


# --------------------------------------------------------------------------- language

_STOPWORDS = {
    "id": frozenset({
        "yang", "dan", "di", "ini", "itu", "dengan", "untuk", "dari", "dalam", "tidak", "akan",
        "pada", "juga", "ke", "karena", "oleh", "ada", "adalah", "sebagai", "bahwa", "atau",
        "mereka", "telah", "sudah", "para", "tersebut", "kata", "saat", "bisa", "dapat",
        "hingga", "serta", "namun", "kami", "kita", "menjadi", "lebih",
    }),
    "en": frozenset({
        "the", "and", "of", "to", "in", "is", "that", "for", "on", "with", "as", "was", "are",
        "be", "by", "at", "from", "it", "this", "have", "has", "were", "will", "said", "an",
        "not", "but", "which", "their", "its", "after", "been",
    }),
}
_WORD = re.compile(r"[^\W\d_]+")


def detect_language(text: str, default: str = "en") -> str:
    """``"id"`` or ``"en"`` by counting common words; ``default`` unless one clearly wins."""
    counts = dict.fromkeys(_STOPWORDS, 0)
    for word in _WORD.findall(text.lower()):
        for language, words in _STOPWORDS.items():
            if word in words:
                counts[language] += 1
    (best, top), (_, second) = sorted(counts.items(), key=lambda kv: -kv[1])[:2]
    return best if top >= 2 and top >= 2 * second else default


# --------------------------------------------------------------------------- article parts


@dataclass
class ParsedText:
    """What :func:`parse_article_text` understood of a story."""

    title: str | None
    title_derived: bool
    headline: str
    dateline: str | None
    lede: str
    body: list[str] = field(default_factory=list)
    author: str | None = None
    editor: str | None = None
    related: list[RelatedLink] = field(default_factory=list)
    language: str = "en"


_MD_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_URL = re.compile(r"https?://\S+")
_RELATED = re.compile(
    r"^(?P<open>[\[(]?)\s*(?:baca(?:\s+(?:juga|pula))?|lihat\s+juga|simak\s+(?:juga|pula)"
    r"|berita\s+terkait|artikel\s+terkait|read\s+(?:also|more)|also\s+read|see\s+also"
    r"|related(?:\s+(?:news|stories|story|articles?|coverage))?)\s*[:\-–—]\s*(?P<rest>.+)$",
    re.I,
)
_CLOSERS = {"(": ")", "[": "]"}
_FOOTERS = [re.compile(p, re.I) for p in (
    r"^artikel ini (?:telah|sudah) (?:tayang|terbit|dipublikasikan)",
    r"^klik untuk baca\b",
    r"^(?:dapatkan|simak) (?:update|breaking news|berita pilihan)",
    r"^(?:ikuti|follow)\b.{0,80}\b(?:google news|whatsapp|telegram)\b",
    r"^(?:copyright|hak cipta)\b|^©",
    r"^\(\s*(?:\*|[a-z0-9]{1,6}(?:\s*/\s*[a-z0-9]{1,6})*)\s*\)$",  # (ant/dwi), (*)
)]
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


def _credit_line(line: str) -> dict[str, str] | None:
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


def _byline(line: str) -> str | None:
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


def _related(line: str) -> RelatedLink | None:
    match = _RELATED.match(line)
    if not match:
        return None
    rest = match.group("rest").strip()
    opener = match.group("open")
    if opener and rest.endswith(_CLOSERS[opener]):
        rest = rest[:-1].strip()
    link = _MD_LINK.search(rest)
    if link:
        return RelatedLink(title=_clean_related_title(link.group(1)), url=link.group(2))
    url_match = _URL.search(rest)
    url = url_match.group().rstrip(").,;") if url_match else None
    title = _clean_related_title(rest.replace(url_match.group(), "") if url_match else rest)
    if not title and not url:
        return None
    return RelatedLink(title=title or url or "", url=url)


def _clean_related_title(text: str) -> str:
    return text.strip(" -–—|:").strip("\"“”'‘’").strip()


def _is_footer(line: str) -> bool:
    return any(pattern.search(line) for pattern in _FOOTERS)


def _unlink(text: str) -> str:
    return _MD_LINK.sub(r"\1", text)


def _is_title_case(text: str) -> bool:
    words = [w for w in _WORD.findall(text) if len(w) > 3]
    return not words or sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _looks_like_title(line: str) -> bool:
    """Contract 4: one short line without a final full stop (questions need Title Case)."""
    if len(line) > TITLE_MAX or len(line.split()) < 2 or _URL.search(line):
        return False
    stripped = line.rstrip("\"”’')]» ")
    if not stripped or stripped.endswith((".", ",", ";", ":", "…")):
        return False
    if stripped.endswith(("!", "?")):
        return _is_title_case(stripped)
    return split_dateline(line)[1] == line


# --------------------------------------------------------------------------- datelines

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


# --------------------------------------------------------------------------- the whole story


@dataclass
class _Extras:
    related: list[RelatedLink] = field(default_factory=list)
    author: str | None = None
    editor: str | None = None


def _take_extras(paragraphs: list[str]) -> tuple[list[str], _Extras]:
    """Remove footers, "Baca juga" lines and labelled credit lines."""
    extras = _Extras()
    kept: list[str] = []
    for paragraph in paragraphs:
        if _is_footer(paragraph):
            continue
        related = _related(paragraph)
        if related is not None:
            extras.related.append(related)
            continue
        credits = _credit_line(paragraph)
        if credits is not None:
            extras.author = extras.author or credits.get("author")
            extras.editor = extras.editor or credits.get("editor")
            continue
        kept.append(_unlink(paragraph))
    return kept, extras


def _take_byline(paragraphs: list[str], index: int, extras: _Extras) -> None:
    if len(paragraphs) >= 2:
        name = _byline(paragraphs[index])
        if name:
            extras.author = extras.author or name
            del paragraphs[index]


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold().rstrip(".") == " ".join(b.split()).casefold().rstrip(".")


_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")


def _clean_title(title: str) -> str:
    """A title from elsewhere (front matter, JSON, a feed) as one clean line: tags and
    entities a CMS left in it ("&#8212;", "<b>") become text."""
    if looks_like_html(title):
        title = html_to_text(title)
    elif _ENTITY.search(title):
        title = html.unescape(title)
    return normalize(_unlink(title)).replace("\n", " ")


def parse_article_text(
    text: str, *, language: str | None = None, title: str | None = None
) -> ParsedText:
    """Understand a story written one paragraph per line.

    ``title``: a title known from elsewhere (front matter, the feed); it wins, and a first
    paragraph that merely repeats it is dropped. Without it, Contract 4's rule applies: a first
    paragraph that is one short line without a final full stop is the title.
    """
    paragraphs, extras = _take_extras(split_paragraphs(text))
    _take_byline(paragraphs, 0, extras)
    found_title: str | None = None
    if title is not None and title.strip():
        found_title = _clean_title(title)
        if paragraphs and _same_text(paragraphs[0], found_title):
            paragraphs.pop(0)
    elif len(paragraphs) >= 2 and _looks_like_title(paragraphs[0]):
        found_title = paragraphs.pop(0)
    _take_byline(paragraphs, 0, extras)
    _take_byline(paragraphs, -1, extras)

    dateline, lede = split_dateline(paragraphs[0]) if paragraphs else (None, "")
    all_text = "\n".join([found_title or "", *paragraphs])
    return ParsedText(
        title=found_title,
        title_derived=found_title is None,
        headline=found_title or derive_headline(lede),
        dateline=dateline,
        lede=lede,
        body=paragraphs[1:],
        author=extras.author,
        editor=extras.editor,
        related=extras.related,
        language=language or detect_language(all_text),
    )
