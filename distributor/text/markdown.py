"""Markdown -> one paragraph per line."""

from __future__ import annotations

import re

from distributor.text.clean import normalize
from distributor.text.credits import credit_line as _credit_line
from distributor.text.related import RELATED as _RELATED

TITLE_MAX = 120

__all__ = ["markdown_to_text"]

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
