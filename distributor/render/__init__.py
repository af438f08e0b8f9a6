"""Rendering helpers every channel's renderer uses: pure, no I/O but templates.

A channel's renderer (in the channel's own package) takes an article (or a list of articles for
a digest) and a :class:`~distributor.plugin.RenderContext` and returns the messages exactly as
they would be sent (Contract 3 of DESIGN.md). What it shares with the others lives here, one
module per thing it owns, and reaches channels through :mod:`distributor.plugin`:

- ``templates``: :class:`Templates` (the user's folder first, then the built-in one),
  :func:`templates_for`, :func:`channel_template`;
- ``words``: the few fixed words, in the article's language (:func:`words`, :func:`language_of`);
- ``dates``: dates in the site's language and time zone (:func:`site_date`, ...);
- ``teaser``: what follows a headline without repeating it; ``tags``: hashtags;
  ``links``: host names and "Read more: URL" lines;
- ``context``: :class:`RenderContext` and ``Message``.

Cutting text where a reader accepts it is :mod:`distributor.text.cuts`.
"""

from __future__ import annotations

from distributor.render.dates import day_and_month, local_now, site_date
from distributor.render.links import hostname, link_line
from distributor.render.tags import hashtag, hashtags
from distributor.render.teaser import headline, lead_and_rest, teaser, title_repeats_lede
from distributor.render.templates import (
    Templates,
    builtin_templates_dir,
    channel_template,
    templates_for,
)
from distributor.render.words import Words, language_of, words

__all__ = [
    "Templates",
    "Words",
    "builtin_templates_dir",
    "channel_template",
    "day_and_month",
    "hashtag",
    "hashtags",
    "headline",
    "hostname",
    "language_of",
    "lead_and_rest",
    "link_line",
    "local_now",
    "site_date",
    "teaser",
    "templates_for",
    "title_repeats_lede",
    "words",
]
