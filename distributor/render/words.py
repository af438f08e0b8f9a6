"""The few fixed words renderers print ("Read more", "Unsubscribe", ...), in the article's
language, and which language that is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributor.articles import Article
    from distributor.config import SiteConfig

__all__ = ["Words", "language_of", "words"]


@dataclass(frozen=True)
class Words:
    """The few fixed words renderers print, in one language."""

    read_more: str
    read_also: str
    unsubscribe: str
    #: "You receive this email because you subscribed to {site}."
    subscribed_note: str
    #: "This email was sent to {recipient}."
    sent_to: str
    digest: str
    breaking: str
    by: str
    visit: str
    #: "1 more story at {site}" (a digest that had to leave articles out)
    more_story: str
    #: "{count} more stories at {site}"
    more_stories: str
    #: " and 1 more story" after a digest subject's lead headline
    and_more_story: str
    #: " and {count} more stories"
    and_more_stories: str

    def more(self, count: int, site: str) -> str:
        """"3 berita lainnya di rinews.example" / "1 more story at rinews.example"."""
        pattern = self.more_story if count == 1 else self.more_stories
        return pattern.format(count=count, site=site)

    def and_more(self, count: int) -> str:
        """" dan 8 berita lainnya" / " and 1 more story"; "" when ``count`` is 0."""
        if count <= 0:
            return ""
        pattern = self.and_more_story if count == 1 else self.and_more_stories
        return pattern.format(count=count)


_WORDS: dict[str, Words] = {
    "id": Words(
        read_more="Baca selengkapnya",
        read_also="Baca juga",
        unsubscribe="Berhenti berlangganan",
        subscribed_note="Anda menerima email ini karena berlangganan {site}.",
        sent_to="Email ini dikirim ke {recipient}.",
        digest="Ringkasan berita",
        breaking="Berita terkini",
        by="Oleh",
        visit="Kunjungi",
        more_story="1 berita lainnya di {site}",
        more_stories="{count} berita lainnya di {site}",
        and_more_story=" dan 1 berita lainnya",
        and_more_stories=" dan {count} berita lainnya",
    ),
    "en": Words(
        read_more="Read more",
        read_also="Read also",
        unsubscribe="Unsubscribe",
        subscribed_note="You receive this email because you subscribed to {site}.",
        sent_to="This email was sent to {recipient}.",
        digest="News digest",
        breaking="Breaking news",
        by="By",
        visit="Visit",
        more_story="1 more story at {site}",
        more_stories="{count} more stories at {site}",
        and_more_story=" and 1 more story",
        and_more_stories=" and {count} more stories",
    ),
}
# "in" is the old ISO 639 code of Indonesian; "ms" (Malay) reads Indonesian well enough.
_ALIASES = {"in": "id", "ind": "id", "eng": "en"}


def _base_language(language: str | None) -> str:
    code = (language or "en").replace("-", "_").split("_")[0].strip().lower()
    return _ALIASES.get(code, code) or "en"


def words(language: str | None) -> Words:
    """Fixed words in ``language`` ("id", "id-ID", "en_GB" ...); English when unknown."""
    return _WORDS.get(_base_language(language), _WORDS["en"])


def language_of(article: Article | None, site: SiteConfig) -> str:
    """The language an article is written in: its own, else the site's."""
    if article is not None and article.language:
        return article.language
    return site.language
