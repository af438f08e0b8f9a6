"""What a channel's renderer takes from the core (part of the plugin API, re-exported by
:mod:`distributor.plugin`): the templates, the fixed words and dates in the site's language,
hashtags, teasers, and the one cutting rule (text cut where a reader accepts an ending).

Cutting a text to one limit is :func:`cut` (or :func:`lede_excerpt` for whole sentences). A
renderer that packs a text into several posts tokenizes it once (:func:`tokenize`: the words,
and a :class:`Gap` rating for the gap after each), then picks each post's end with
:func:`choose_end` and cuts what does not fit with :func:`cut_tokens`.
"""

from __future__ import annotations

from enum import IntEnum

from distributor.render import (
    Templates,
    Words,
    channel_template,
    day_and_month,
    hashtags,
    headline,
    hostname,
    language_of,
    lead_and_rest,
    local_now,
    site_date,
    teaser,
    templates_for,
    title_repeats_lede,
    words,
)
from distributor.text import cuts
from distributor.text.cuts import ELLIPSIS, choose_end, cut, cut_tokens, lede_excerpt, tokenize

__all__ = [
    "ELLIPSIS",
    "Gap",
    "Templates",
    "Words",
    "channel_template",
    "choose_end",
    "cut",
    "cut_tokens",
    "day_and_month",
    "hashtags",
    "headline",
    "hostname",
    "language_of",
    "lead_and_rest",
    "lede_excerpt",
    "local_now",
    "site_date",
    "teaser",
    "templates_for",
    "title_repeats_lede",
    "tokenize",
    "words",
]


class Gap(IntEnum):
    """How good a gap between two words is to end a text at, worse first (the ratings
    :func:`tokenize` gives and :func:`choose_end` compares; plain ints compare alike)."""

    GLUE = cuts.GLUE                        # never, unless nothing else fits
    QUOTED_WORD = cuts.QUOTED_WORD          # the kinds below, inside a quotation
    QUOTED_CLAUSE = cuts.QUOTED_CLAUSE
    QUOTED_SENTENCE = cuts.QUOTED_SENTENCE
    WORD = cuts.WORD                        # between two words
    CLAUSE = cuts.CLAUSE                    # after , ; : or a dash
    SENTENCE = cuts.SENTENCE                # after a sentence
    END = cuts.END                          # the end of the text itself
