"""The whole story: title, dateline, lede, body, byline, editor, related links, language.

:func:`parse_article_text` reads text the way a copy editor does, in this order:

1. every line is sorted: page furniture, a read-also line, a credit line, a dateline alone on
   its line, or text (``furniture``, ``related``, ``credits``, ``dateline``);
2. runs of text lines are re-flowed into paragraphs (``reflow``): hard-wrapped lines and
   sentences broken by lost links are joined, before anything else reads them;
3. the page's head is told from the story (``header``): the title (Contract 4: a first short
   line without a final full stop; on a page, the line a time stamp or byline follows, or the
   one repeated), names and a standfirst under it, and where the story starts: at the
   dateline if one opens a paragraph there, else at the first paragraph;
4. the lede loses its dateline and publication prefix (a dateline on its own line joins it);
5. a story that is one long paragraph is cut into sentences: its lede is the first sentence
   (two when the first is short).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from distributor.articles import RelatedLink
from distributor.text.clean import normalize
from distributor.text.credits import byline, byline_dateline, credit_line, take_wire_credits
from distributor.text.dateline import is_dateline_line, read_dateline
from distributor.text.furniture import is_furniture, strip_stamp, strip_title_furniture
from distributor.text.header import Unit, find_story
from distributor.text.headline import derive_headline
from distributor.text.html import html_to_text, looks_like_html
from distributor.text.language import detect_language
from distributor.text.reflow import join_lines, split_lede, split_run_on
from distributor.text.related import related_line, unlink

__all__ = ["TITLE_MAX", "ParsedText", "parse_article_text"]

#: a first line up to this long can be a title (Contract 4's "short line"; longer ones are
#: paragraphs). Titles over 120 characters are real: "short" means shorter than a paragraph.
TITLE_MAX = 200


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


@dataclass
class _Extras:
    related: list[RelatedLink] = field(default_factory=list)
    author: str | None = None
    editor: str | None = None

    def credit(self, credits: dict[str, str]) -> None:
        self.author = self.author or credits.get("author")
        self.editor = self.editor or credits.get("editor")


# --------------------------------------------------------------------------- lines -> units

#: labels above a list of links to related stories
_RELATED_LABELS = frozenset({
    "baca juga", "berita terkait", "artikel terkait", "baca pula", "simak juga", "lihat juga",
    "read also", "related", "related news", "related stories", "see also", "also read",
})
#: a list item's marker in plain text ("* PAKET DI JERMAN ...", "• Updated")
_BULLET = re.compile(r"^[*•·▪►]\s+")
_WHOLE_LINK = re.compile(r"^\[([^\]]+)\]\((https?://[^)\s]+)\)$")


def _units(text: str, extras: _Extras) -> list[Unit]:
    """The text as units: paragraphs (re-flowed), datelines alone on a line, and the
    furniture that marks a page's head (time stamps, labels); credits and read-also lines
    go to ``extras``."""
    units: list[Unit] = []
    run: list[str] = []

    def flush(blank: bool = False) -> None:
        """The run of text lines as paragraphs; ``blank``: a blank line (or the end) follows."""
        single = set(run)
        paragraphs = join_lines(run)
        units.extend(Unit("para", paragraph, joined=paragraph not in single,
                          closed=blank and number == len(paragraphs) - 1)
                     for number, paragraph in enumerate(paragraphs))
        run.clear()

    listing = False  # under a "Baca Juga" label: the links that follow are related stories
    for line in normalize(text).split("\n"):
        line = _BULLET.sub("", line)
        if not line:
            flush(blank=True)
            continue
        related = related_line(line)
        if related is None and listing and (link := _WHOLE_LINK.match(line)):
            related = RelatedLink(title=link.group(1).strip(), url=link.group(2))
        if related is not None:
            flush()
            extras.related.append(related)
            continue
        listing = line.rstrip(" :").casefold() in _RELATED_LABELS
        if is_furniture(line):
            flush()
            units.append(Unit("furniture", line))
            continue
        reporter = byline_dateline(line)
        if reporter is not None:
            flush()
            extras.credit({"author": reporter[0]})
            units.extend([Unit("credit", line), Unit("dateline", f"{reporter[1]} -")])
            continue
        credits = credit_line(line)
        name = byline(line) if credits is None else None
        if name is not None:
            credits = {"author": name}
        if credits is not None:
            flush()
            extras.credit(credits)
            units.append(Unit("credit", line))
            continue
        if is_dateline_line(line):
            flush()
            units.append(Unit("dateline", line))
            continue
        run.append(unlink(line))
    flush(blank=True)
    return units


# --------------------------------------------------------------------------- the title


_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")


def _clean_title(title: str) -> str:
    """A title from elsewhere (front matter, JSON, a feed) as one clean line: tags and
    entities a CMS left in it ("&#8212;", "<b>") become text; "<BBM> naik" stays."""
    if looks_like_html(title):
        title = html_to_text(title)
    elif _ENTITY.search(title):
        title = html.unescape(title)
    return strip_title_furniture(normalize(unlink(title)).replace("\n", " "))


def _take_byline(paragraphs: list[str], index: int, extras: _Extras) -> None:
    if len(paragraphs) >= 2:
        name = byline(paragraphs[index])
        if name:
            extras.author = extras.author or name
            del paragraphs[index]


_SHOUTED_NAME = re.compile(r"^[A-Z][A-Z.'-]+(?: [A-Z][A-Z.'-]*){1,3}$")
_INITIALS_END = re.compile(r"\s*[(\[]\s*[a-z]{2,5}(?:\s*/\s*[a-z0-9-]{1,5})+\s*[)\]]$", re.I)


def _tidy_end(paragraphs: list[str], extras: _Extras) -> None:
    """The story's last paragraph without a wire's credits or initials glued to it."""
    if not paragraphs:
        return
    last, credits = take_wire_credits(paragraphs[-1])
    extras.credit(credits)
    last = _INITIALS_END.sub("", last)
    if _SHOUTED_NAME.match(last) and len(paragraphs) > 1:  # Tempo: "DINI TEJA" closes a story
        extras.credit({"author": last})
        last = ""
    if last:
        paragraphs[-1] = last
    else:
        paragraphs.pop()


# --------------------------------------------------------------------------- the whole story


def parse_article_text(
    text: str, *, language: str | None = None, title: str | None = None
) -> ParsedText:
    """Understand a story: its title, dateline, lede, body, credits and read-also lines.

    ``title``: a title known from elsewhere (front matter, the feed); it wins, and a paragraph
    that merely repeats it is dropped. Without it, Contract 4's rule applies: a first paragraph
    that is one short line without a final full stop is the title.
    """
    extras = _Extras()
    units = _units(text, extras)
    known = _clean_title(title) if title is not None and title.strip() else None
    story = find_story(units, known, TITLE_MAX)
    extras.credit(story.credits)

    paragraphs = list(story.paragraphs)
    _take_byline(paragraphs, 0, extras)
    _tidy_end(paragraphs, extras)
    _take_byline(paragraphs, -1, extras)

    lede = strip_stamp(paragraphs[0]) if paragraphs else ""
    found = read_dateline(lede)
    extras.credit(found.credits)
    lede = found.rest
    if not known and story.title is None and lede and byline(lede):
        lede = ""
    if len(paragraphs) == 1 and lede and not story.lede_joined:  # one line, no breaks
        paragraphs = split_run_on(lede)
        lede = paragraphs[0]
    elif lede and story.lede_joined and not story.lede_closed:
        # wrapped lines with no blank line under them: where the paragraph ends is unknown
        paragraphs = [*split_lede(lede), *paragraphs[1:]]
        lede = paragraphs[0]
    body = paragraphs[1:]

    found_title = known or (strip_title_furniture(story.title) if story.title else None)
    all_text = "\n".join([found_title or "", lede, *body])
    return ParsedText(
        title=found_title,
        title_derived=found_title is None,
        headline=found_title or derive_headline(lede),
        dateline=found.place,
        lede=lede,
        body=body,
        author=extras.author,
        editor=extras.editor,
        related=extras.related,
        language=language or detect_language(all_text),
    )
