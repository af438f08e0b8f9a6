"""Newsroom text: clean it, turn feed HTML and Markdown into it, and understand an article.

Everything here is a pure function of its arguments. The one entry point sources use is
:func:`parse_article_text`, which reads a story the way news portals write it and separates
the title, the dateline, the lede, the body, the byline, the editor and the "Baca juga" (read
also) links, leaving out page furniture.

Text passed between these functions uses one convention: one paragraph per line. Links that must
survive (those of "Baca juga" lines) travel as Markdown links, ``[title](https://...)``;
:func:`parse_article_text` turns every other link back into its plain text.

Modules: ``clean`` (whitespace), ``html`` and ``markdown`` (markup -> text), ``sentences``
(sentence ends and abbreviations: the one place), ``headline`` (derived headlines),
``dateline``, ``credits`` (bylines), ``related`` (read-also lines), ``furniture`` (page
furniture), ``reflow`` (text without paragraph breaks, hard-wrapped text), ``language``,
``slug`` and ``parse`` (the whole story).
"""

from __future__ import annotations

from distributor.text.clean import normalize, split_paragraphs
from distributor.text.dateline import split_dateline
from distributor.text.headline import (
    HEADLINE_MAX,
    HEADLINE_MIN,
    HEADLINE_TARGET,
    derive_headline,
    shorten,
)
from distributor.text.html import first_image, html_to_text, looks_like_html
from distributor.text.language import detect_language
from distributor.text.markdown import markdown_to_text
from distributor.text.parse import TITLE_MAX, ParsedText, parse_article_text
from distributor.text.sentences import ABBREVIATIONS, first_sentence, split_sentences
from distributor.text.slug import slugify

__all__ = [
    "ABBREVIATIONS",
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
    "split_sentences",
]
