"""What follows a headline: the lede, without saying the headline's words twice."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributor.articles import Article

__all__ = ["lead_and_rest", "teaser", "title_repeats_lede"]


def _comparable(text: str) -> str:
    return " ".join(text.split()).casefold().rstrip(" .…!?\"”’'")


def title_repeats_lede(article: Article) -> bool:
    """True when printing the title above the lede would say the same words twice: the title
    was derived from the lede, or the lede opens with it."""
    if article.title_derived:
        return True
    title, lede = _comparable(article.title), _comparable(article.lede)
    return bool(title) and lede.startswith(title) and len(title) >= 12


def lead_and_rest(text: str) -> tuple[str, str]:
    """(the first sentence of ``text``, the rest), without breaking at "Dr." or "3,5" or
    inside a quotation."""
    from distributor.text.cuts import sentences

    parts = sentences(text)
    return (parts[0], " ".join(parts[1:])) if parts else ("", "")


def teaser(article: Article) -> str:
    """The text that follows the headline in an email card.

    The lede; but when the headline was derived from it (or the lede opens with the title), the
    lede from its second sentence on, so that the card does not say its first words twice;
    the body's first paragraph when the lede has only that one sentence; when there is
    nothing else either, nothing if the headline says most of the lede, else the lede.
    """
    lede = " ".join(article.lede.split())
    if not lede or not title_repeats_lede(article):
        return lede
    lead, rest = lead_and_rest(lede)
    if rest:
        return rest
    following = next((" ".join(p.split()) for p in article.body if p.strip()), "")
    if following:
        return following
    return "" if len(_comparable(article.title)) >= 0.6 * len(_comparable(lead)) else lede
