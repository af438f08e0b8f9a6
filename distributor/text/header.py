"""A page's head and where its story starts.

Text copied from a news page carries more than the story above it: the site's prompts, a
topic label, the title (sometimes twice, once glued to a section label and a date), a
standfirst, the names of the writer and the editor, a photo credit. :func:`find_story` finds
the title and the first paragraph of the story among them:

- a title known from elsewhere (front matter, the feed) wins; lines repeating it are dropped;
- else a line the page marks as its title: one a time stamp, a label or a credit line follows,
  or one the page repeats; what stands above it is the page's, not the story's;
- the story starts at the first paragraph that opens with a dateline ("TRIBUNNEWS.COM, MEDAN
  - ...") when only headings, short standfirsts and names stand before it; else at the first
  paragraph that is no title-like line; a place alone on its line ("Jakarta") just above it is
  its dateline;
- without a known or marked title, Contract 4 holds: a short line without a final full stop
  above the story is the title (of several, the last in Title Case: the one above is a topic
  label).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from distributor.text.dateline import is_place, read_dateline
from distributor.text.furniture import is_photo_credit
from distributor.text.sentences import split_sentences

__all__ = ["Story", "Unit", "find_story", "looks_like_title", "same_text"]

#: how many units of a page's head are searched for a marked title
HEAD = 15
#: paragraphs searched for a dateline that starts the story
DATELINE_REACH = 8
#: a standfirst or a caption above the story: at most this long, two sentences at most
STANDFIRST_MAX = 300

_WORD = re.compile(r"[^\W\d_]+")
_URL = re.compile(r"https?://\S+")
_NAME = re.compile(r"^[A-Z][\w.'’-]*(?: (?:[A-Z][\w.'’-]*|bin|binti|van|de|al)){1,4},?$")
_PLACE = re.compile(r"^[A-Z][\w'’-]*(?: [A-Z][\w'’-]*){0,2}$")


@dataclass
class Unit:
    """A piece of text: a paragraph ("para"), a dateline alone on its line ("dateline"),
    furniture ("furniture") or a credit line ("credit")."""

    kind: str
    text: str
    joined: bool = False  # a paragraph joined from several lines (wrapped, broken by links)
    closed: bool = False  # a blank line (or the end of the text) follows it


@dataclass
class Story:
    title: str | None
    paragraphs: list[str]
    credits: dict[str, str] = field(default_factory=dict)
    lede_joined: bool = False
    lede_closed: bool = True


def same_text(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold().rstrip(".") == " ".join(b.split()).casefold().rstrip(".")


def _is_title_case(text: str) -> bool:
    words = [w for w in _WORD.findall(text) if len(w) > 3]
    return not words or sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def looks_like_title(line: str, title_max: int) -> bool:
    """Contract 4: one short line without a final full stop (questions need Title Case)."""
    if len(line) > title_max or len(line.split()) < 2 or _URL.search(line):
        return False
    stripped = line.rstrip("\"”’')]» ")
    if not stripped or stripped.endswith((".", ",", ";", ":", "…")):
        return False
    if len(split_sentences(line)) > 2:
        return False
    if stripped.endswith(("!", "?")):
        return _is_title_case(stripped)
    return not read_dateline(line).found


def _short(text: str) -> bool:
    return len(text) <= STANDFIRST_MAX and len(split_sentences(text)) <= 2


def _merge_datelines(units: list[Unit], title_max: int) -> list[Unit]:
    """A dateline alone on its line joins the paragraph under it ("MAKASSAR, KOMPAS.com" +
    "– Sebanyak 35 jiwa ..."); furniture between them is passed over."""
    merged: list[Unit] = []
    pending: str | None = None
    for unit in units:
        if unit.kind == "dateline":
            pending = unit.text
            continue
        if unit.kind == "para" and pending is not None and read_dateline(unit.text).found:
            pending = None  # the paragraph carries its own dateline
        if unit.kind == "para" and pending is not None and not looks_like_title(
                unit.text, title_max):  # (a heading under it waits with it for the story)
            dash = pending.endswith(("-", "–", "—")) or unit.text.startswith(("-", "–", "—"))
            unit = Unit("para", f"{pending} {unit.text}" if dash else f"{pending} - {unit.text}",
                        unit.joined, unit.closed)
            pending = None
        merged.append(unit)
    return merged


def _mark_captions(units: list[Unit], title_max: int) -> list[Unit]:
    """Photo captions in a page's head become furniture: a paragraph a photo credit follows,
    or one the page shows twice (the image's text and its caption) that is no title."""
    head = [u.text for u in units[:HEAD] if u.kind == "para"]
    marked: list[Unit] = []
    for index, unit in enumerate(units):
        following = units[index + 1] if index + 1 < len(units) else None
        # ... when the story still follows: a story told twice is still a story
        story_follows = any(
            u.kind == "para" and not looks_like_title(u.text, title_max)
            and not (u.text.startswith(unit.text) or unit.text.startswith(u.text))
            for u in units[index + 1:])
        shown_twice = sum(unit.text.startswith(h) or h.startswith(unit.text) for h in head) > 1
        if unit.kind == "para" and story_follows and (
                (following is not None and following.kind == "furniture"
                 and is_photo_credit(following.text) and len(unit.text) <= 400)
                or (index < HEAD and shown_twice and not looks_like_title(unit.text, title_max)
                    and len(unit.text) > 40)):
            unit = Unit("furniture", unit.text)
        marked.append(unit)
    return marked


def _story_after(units: list[Unit], index: int, title_max: int) -> bool:
    """True when a paragraph of prose follows ``index``: a title needs a story under it."""
    return any(u.kind == "para" and not looks_like_title(u.text, title_max)
               for u in units[index + 1:])


def _is_repeat(text: str, title: str) -> bool:
    return same_text(text, title) or text.casefold().startswith(title.casefold() + " ")


def _marked_title(units: list[Unit], title_max: int) -> int | None:
    """The index of the line the page marks as its title, if any.

    Of several marked lines with only headings and furniture between them (a site's label
    and the title, each over a time stamp), the last is the title.
    """
    prose = 0
    found: int | None = None
    for index, unit in enumerate(units[:HEAD]):
        if unit.kind != "para":
            continue
        if not looks_like_title(unit.text, title_max):
            prose += 1
            if found is None and _short(unit.text) and prose < 2 and not read_dateline(
                    unit.text).found:
                continue
            break  # the story has begun: a dateline, two paragraphs, a long one
        following = units[index + 1] if index + 1 < len(units) else None
        marked = following is not None and following.kind in ("furniture", "credit")
        repeated = any(u.kind == "para" and u.text == unit.text for u in units[index + 1:HEAD])
        if (marked or repeated) and _story_after(units, index, title_max):
            found = index
            # "Title 150 150 admin": the title glued to furniture, right under the title
            if index > 0 and units[index - 1].kind == "para" and unit.text.startswith(
                    units[index - 1].text + " "):
                found = index - 1
    if found is None:
        return None
    # a standfirst without a full stop marked in the title's place: the title is right above
    above = found - 1
    if (above >= 0 and units[above].kind == "para" and _standfirst(units[found].text)
            and looks_like_title(units[above].text, title_max)
            and _is_title_case(units[above].text) and len(units[above].text.split()) >= 4):
        return above
    return found


def _standfirst(text: str) -> bool:
    return len(text.split()) >= 12 and not _is_title_case(text)


def _after_repeats(units: list[Unit], title: str, start: int, title_max: int) -> int:
    """The index after the last line of the page's head that repeats the title."""
    last = start - 1
    for index, unit in enumerate(units[:HEAD]):
        if index < start or unit.kind != "para":
            continue
        if _is_repeat(unit.text, title) and (
                looks_like_title(unit.text, title_max) or not same_text(unit.text, title)
        ) and _story_after(units, index, title_max):
            last = index
        elif not (looks_like_title(unit.text, title_max) or _short(unit.text)):
            break
    return last + 1


def _story_start(units: list[Unit], start: int, title_max: int, known: bool) -> int | None:
    """The index of the story's first paragraph at or after ``start``."""
    paras = [i for i in range(start, len(units)) if units[i].kind == "para"]
    for number, index in enumerate(paras[:DATELINE_REACH]):
        text = units[index].text
        dateline = read_dateline(text)
        if dateline.found and (number == 0 or not looks_like_title(dateline.rest, title_max)):
            return index  # (a later one only with prose after it, not a heading)
        following = paras[number + 1] if number + 1 < len(paras) else None
        place = _PLACE.match(text) and is_place(text) and (
            number > 0 or start > 0 or " " not in text)
        if place and following == index + 1 and not looks_like_title(
                units[following].text, title_max) and not read_dateline(
                units[following].text).found:
            below = units[following]
            units[following] = Unit("para", f"{text} - {below.text}", below.joined, below.closed)
            return following  # "Jakarta" alone above the lede: its dateline
        if not (looks_like_title(text, title_max) or _short(text)):
            break
    if known or not paras:
        return paras[0] if paras else None
    for index in paras:
        if not looks_like_title(units[index].text, title_max) and not _NAME.match(
                units[index].text):
            return index
    return paras[0]


def _choose_title(candidates: list[str]) -> str | None:
    title_case = [c for c in candidates if _is_title_case(c)]
    if title_case:
        return title_case[-1]
    return candidates[0] if candidates else None


#: a label with no name after it ("Editor:"): the name stands on a line below
_ROLE_LABELS = {"penulis": "author", "reporter": "author", "pewarta": "author",
                "wartawan": "author", "editor": "editor", "redaktur": "editor"}
#: a label under the names of the writer and the editor, in this order (Kompas)
_TEAM_LABELS = frozenset({"tim redaksi"})


def _header_credits(head: list[Unit]) -> dict[str, str]:
    """Names on lines of their own under the title: after an empty "Editor:" label, or
    above a "Tim Redaksi" label (the writer, then the editor)."""
    credits: dict[str, str] = {}
    role: str | None = None
    names: list[str] = []
    team = False
    for unit in head:
        label = unit.text.rstrip(": ").casefold()
        if unit.kind == "furniture" and label in _ROLE_LABELS:
            role = _ROLE_LABELS[label]
        elif unit.kind == "furniture" and label in _TEAM_LABELS:
            team = True
        elif unit.kind == "para" and _NAME.match(unit.text):
            if role is not None:
                credits.setdefault(role, unit.text)
                role = None
            else:
                names.append(unit.text.rstrip(","))
    if team and names:
        credits.setdefault("author", names[0])
        if len(names) > 1:
            credits.setdefault("editor", names[1])
    return credits


def find_story(units: list[Unit], known: str | None, title_max: int) -> Story:
    """The title (None when the text has none of its own) and the story's paragraphs."""
    units = _merge_datelines(_mark_captions(units, title_max), title_max)
    title: str | None = None
    start = 0
    if known:
        start = _after_repeats(units, known, 0, title_max)
        marked = _marked_title(units[start:], title_max)  # a deck over a time stamp
        if marked is not None:
            start += marked + 1
    else:
        marked = _marked_title(units, title_max)
        if marked is not None:
            title = units[marked].text
            start = _after_repeats(units, title, marked, title_max)
    first = _story_start(units, start, title_max, known is not None)
    if first is None:
        return Story(title, [])
    header = [u.text for u in units[start:first] if u.kind == "para"]
    credits: dict[str, str] = {}
    if known is None and title is None:
        candidates = [h for h in header if looks_like_title(h, title_max)]
        title = _choose_title(candidates)
        if title is None and first == next(
                (i for i, u in enumerate(units) if u.kind == "para"), None):
            paras = [u for u in units if u.kind == "para"]
            if len(paras) >= 2 and looks_like_title(paras[0].text, title_max):
                title = paras[0].text
                first = units.index(paras[1])
        if title is not None:
            header = header[header.index(title) + 1:] if title in header else header
    if title is not None or known is not None:
        credits = _header_credits(units[start:first])
    story = [u for u in units[first:] if u.kind == "para"
             and not (known is None and title and same_text(u.text, title))]
    return Story(title, [u.text for u in story], credits, bool(story) and story[0].joined,
                 not story or story[0].closed)
