"""What follows a headline: the lede, without saying the headline's words twice."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributor.articles import Article

__all__ = ["headline", "lead_and_rest", "teaser", "title_repeats_lede"]


#: a headline that says this share of the first sentence's characters says all of it
WHOLE = 0.9
#: the longest first sentence a card prints as its headline in place of a title cut from it
LONGEST = 200


def _comparable(text: str) -> str:
    return " ".join(text.split()).casefold().rstrip(" .…!?\"”’'")


def title_repeats_lede(article: Article) -> bool:
    """True when printing the title above the lede would say the same words twice: the title
    was derived from the lede, or the lede opens with it."""
    if article.title_derived:
        return True
    title, lede = _comparable(article.title), _comparable(article.lede)
    return bool(title) and lede.startswith(title) and len(title) >= 12


def _whole_sentence(article: Article) -> str | None:
    """The lede's whole first sentence made a headline the way a derived title is (no full
    stop, no emoji, no short asides), if it has at most :data:`LONGEST` characters."""
    from distributor.text.headline import derive_headline

    whole = derive_headline(" ".join(article.lede.split()), max_len=LONGEST, target=LONGEST)
    return whole if whole and not whole.endswith("…") else None


def headline(article: Article) -> str:
    """The headline a card prints: the title; but a title derived from the lede and cut short
    of its first sentence gives way to the whole sentence (:func:`_whole_sentence`), as a
    Telegram post prints the sentence, so that the words the cut left out are said."""
    return _headline_and_whole(article)[0]


def _headline_and_whole(article: Article) -> tuple[str, str | None]:
    """(:func:`headline`, :func:`_whole_sentence` of a derived title, else None): the
    sentence made a headline once for both."""
    title = " ".join(article.title.split())
    whole = _whole_sentence(article) if article.title_derived else None
    return (whole if whole is not None and len(whole) > len(title) else title), whole


def lead_and_rest(text: str) -> tuple[str, str]:
    """(the first sentence of ``text``, the rest), without breaking at "Dr." or "3,5" or
    inside a quotation."""
    from distributor.text.cuts import sentences

    parts = sentences(text)
    return (parts[0], " ".join(parts[1:])) if parts else ("", "")


def teaser(article: Article) -> str:
    """The text that follows the headline in an email card.

    The lede; but when the headline was derived from it (or the lede opens with the title) and
    says its whole first sentence, the lede from its second sentence on, so that the card
    does not say its first words twice; the body's first paragraph when the lede has only
    that one sentence; when there is nothing else either, nothing if the headline says most
    of the lede, else the lede. A title cut short of the first sentence that is not replaced
    by it (:func:`headline`: an editor's title, a sentence too long) keeps the lede whole
    below it: the words it cut are said nowhere else.
    """
    lede = " ".join(article.lede.split())
    if not lede or not title_repeats_lede(article):
        return lede
    lead, rest = lead_and_rest(lede)
    if article.title_derived:
        shown, whole = _headline_and_whole(article)
        says_all = shown == whole
    else:
        says_all = len(_comparable(article.title)) >= WHOLE * len(_comparable(lead))
    if not says_all:
        return lede
    if rest:
        return rest
    following = next((" ".join(p.split()) for p in article.body if p.strip()), "")
    if following:
        return following
    return "" if len(_comparable(article.title)) >= 0.6 * len(_comparable(lead)) else lede
