"""Markdown -> one paragraph per line, read by markdown-it-py (CommonMark).

Headings, list items, quotes and paragraphs become paragraphs; emphasis, code marks and images
go; links with a web address stay as ``[text](url)`` (read-also lines need them). Inside a
paragraph, lines are joined or kept the way :func:`distributor.text.reflow.reflow_lines` decides:
hard-wrapped lines join, portal-style lines (one paragraph per line) stay.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from distributor.text.clean import normalize
from distributor.text.html import html_to_text, looks_like_html
from distributor.text.reflow import reflow_lines

__all__ = ["markdown_to_text"]

_MARKDOWN = MarkdownIt("commonmark", {"html": True})


def _inline_lines(children: list[Token]) -> list[str]:
    """The lines of one paragraph's inline tokens (soft and hard breaks end a line)."""
    lines: list[str] = [""]
    links: list[tuple[int, str]] = []  # (where the link's text starts, its address)
    for token in children:
        kind = token.type
        if kind == "image" or (kind == "html_inline" and token.content.lower().startswith(
                "<img")):
            continue
        if kind in ("text", "code_inline"):
            lines[-1] += token.content
        elif kind in ("softbreak", "hardbreak"):
            lines.append("")
        elif kind == "html_inline":
            if token.content.lower().startswith("<br"):
                lines.append("")
            elif not looks_like_html(token.content):  # "<BBM>" is text
                lines[-1] += token.content
        elif kind == "link_open":
            links.append((len(lines[-1]), str(token.attrs.get("href") or "")))
        elif kind == "link_close" and links:
            start, href = links.pop()
            text = lines[-1][start:]
            if href.startswith(("http://", "https://")) and text.strip() and text != href:
                lines[-1] = lines[-1][:start] + f"[{text}]({href})"
    return [line.strip() for line in lines if line.strip()]


def markdown_to_text(markdown: str, *, join: bool = True) -> str:
    """Markdown -> one paragraph per line (links kept as ``[text](url)``, images dropped).

    ``join=False`` keeps the lines of each block as they are and separates blocks with a
    blank line, for :func:`distributor.text.parse_article_text` to re-flow them itself.
    """
    blocks: list[list[str]] = []
    for token in _MARKDOWN.parse(normalize(markdown)):
        if token.type == "inline":
            blocks.append(_inline_lines(token.children or []))
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content.split("\n"))
        elif token.type == "html_block":
            blocks.extend([p] for p in html_to_text(token.content, links=True).split("\n\n"))
    if not join:
        return "\n\n".join("\n".join(line for line in block if line.strip())
                           for block in blocks if any(line.strip() for line in block))
    paragraphs = [p for block in blocks for p in reflow_lines(block)]
    return "\n".join(p for p in paragraphs if p.strip())
