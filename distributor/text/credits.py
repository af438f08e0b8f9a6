"""Bylines and credit lines, at the top or the bottom of a story.

"Pewarta: A | Editor: B", "Penulis | : | A |" (a table), "Reporter: ...", "Oleh: A, B, & C",
"By NAME", "Oleh Name", "Laporan Wartawan Grid.ID, Name", and the wires' closing lines
"(Reporting by A in Place; additional reporting by B; Editing by C)".
"""

from __future__ import annotations

import re

from distributor.text.dateline import is_publication

__all__ = ["byline", "byline_dateline", "credit_line", "take_wire_credits", "wire_credits"]

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
    return (0 < len(name) <= 80 and name[0].isalpha() and len(name.split()) <= 10
            and not name.endswith(("?", "!")))


_TABLE_CELLS = re.compile(r"^(?P<label>[^\W\d_]+(?: [^\W\d_]+)?)\s*\|\s*:\s*\|\s*(?P<name>.+?)"
                          r"\s*\|?\s*$")
_REPORT = re.compile(
    r"^laporan\s+(?:wartawan|reporter|jurnalis|kontributor)\s+(?P<outlet>[^,]{2,40}),\s*"
    r"(?P<name>[^\W\d_][^,;|]{1,60})$", re.I)


def credit_line(line: str) -> dict[str, str] | None:
    """``{"author": ..., "editor": ...}`` for "Pewarta: A | Editor: B" style lines, else None."""
    table = _TABLE_CELLS.match(line)
    if table:
        line = f"{table.group('label')}: {table.group('name')}"
    report = _REPORT.match(line)
    if report:
        name = report.group("name").strip(" .")
        return {"author": name} if _is_name(name) and _capitalised(name) else None
    wire = wire_credits(line)
    if wire is not None:
        return wire
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
        if is_publication(name):
            continue  # "Oleh: VOA Indonesia": an agency, not a person
        credits.setdefault("editor" if label in _EDITOR_LABELS else "author", name)
    return credits or None


_NAME_PAPER_PLACE = re.compile(
    r"^(?P<name>[A-Z][\w'’-]+(?: [A-Z][\w'’.-]*){1,3}), (?P<paper>[^,]{2,40}), "
    r"(?P<place>[A-Z][\w'’-]+(?: [A-Z][\w'’-]+){0,2})$")


def byline_dateline(line: str) -> tuple[str, str] | None:
    """(name, place) of "Muninggar Sri Saraswati, The Jakarta Post, Jakarta": the reporter,
    the paper and the dateline's place on one line above the story."""
    match = _NAME_PAPER_PLACE.match(line.strip())
    if not match or not is_publication(match.group("paper")):
        return None
    return match.group("name"), match.group("place")


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


_WIRE_LABEL = re.compile(
    r"^(?P<extra>additional\s+)?(?P<label>reporting|reported|writing|written|editing|edited"
    r"|compiled|graphics)\s+by\s+(?P<name>.+)$", re.I)
_WIRE_LINE = re.compile(
    r"\(\s*(?:reporting|reported|writing|written)\s+by\s[^()]{2,300}\)\s*$", re.I)
_IN_PLACE = re.compile(r"\s+in\s+[A-Z][\w .,'-]*$")
#: where one credit of a wire's line ends: ";", ". " before a capital, ", editing by"
_WIRE_PARTS = re.compile(r"\s*;\s*|(?<![A-Z])\.\s+(?=[A-Z])|,\s+(?=(?:[Aa]dditional\s+)?"
                         r"(?:[Rr]eporting|[Ee]diting|[Ee]dited|[Ww]riting)\s+by\b)")


def wire_credits(line: str) -> dict[str, str] | None:
    """The names in a wire's credit line "(Reporting by A in Place; Editing by B)", else None.

    The author is the first reporter (without "in Place"); additional reporters are not
    the author; the editors are kept as written ("A, B and C").
    """
    inner = line.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1].strip()
    if not re.match(r"(?:reporting|reported|writing|written)\s+by\s", inner, re.I):
        return None
    credits: dict[str, str] = {}
    for part in _WIRE_PARTS.split(inner):
        match = _WIRE_LABEL.match(part.strip())
        if not match or match.group("extra"):
            continue
        name = _IN_PLACE.sub("", match.group("name").strip())
        if not re.search(r"\b[A-Z]\.$", name):
            name = name.rstrip(".")
        label = match.group("label").lower()
        if label in ("compiled", "graphics") or not (_is_name(name) and _capitalised(name)):
            continue
        credits.setdefault("editor" if label.startswith("edit") else "author", name)
    return credits or None


def take_wire_credits(paragraph: str) -> tuple[str, dict[str, str]]:
    """(``paragraph`` without a wire credit line that closes it, the names in that line)."""
    match = _WIRE_LINE.search(paragraph)
    if not match or match.start() == 0:
        return paragraph, {}
    credits = wire_credits(match.group())
    if credits is None:
        return paragraph, {}
    return paragraph[: match.start()].rstrip(), credits
