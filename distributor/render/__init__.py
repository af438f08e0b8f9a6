"""Rendering: article(s) + channel config + templates -> messages. Pure: no I/O but templates.

Each channel has a module here (``email.py``, ``telegram.py``, ``x.py``) whose functions take an
article (or a list of articles for a digest) and a :class:`~distributor.plugin.RenderContext`
and return the messages exactly as they would be sent (Contract 3 of DESIGN.md).

Templates come from :class:`Templates`: a user's folder (``templates:`` in channels.yaml) first,
then the built-in folder, so a user overrides a built-in template by creating a file with the same
relative name (``email/digest.html``). The built-in ones stay reachable as ``builtin/<name>``, so
an override can ``{% extends "builtin/email/base.html" %}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_skeleton, format_time

import distributor

if TYPE_CHECKING:
    from distributor.articles import Article
    from distributor.config import Config, SiteConfig

__all__ = [
    "Templates",
    "Words",
    "builtin_templates_dir",
    "channel_template",
    "day_and_month",
    "hashtag",
    "hashtags",
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


# --------------------------------------------------------------------------- fixed words


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


# --------------------------------------------------------------------------- dates


@cache
def _babel_locale(language: str | None) -> str:
    """A locale Babel knows for ``language`` ("id", "id-ID", "in" ...), else English."""
    code = (language or "en").strip().replace("-", "_")
    for candidate in (code, _base_language(code)):
        try:
            Locale.parse(candidate)
        except (ValueError, UnknownLocaleError):
            continue
        return candidate
    return "en"


def _as_site_time(value: datetime | date, site: SiteConfig) -> datetime | date:
    """A datetime in the site's time zone (naive datetimes are taken as UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(ZoneInfo(site.timezone))
    return value


def local_now(site: SiteConfig, now: datetime | None = None) -> datetime:
    """``now`` (or the current time) in the site's time zone."""
    result = _as_site_time(now or datetime.now(UTC), site)
    assert isinstance(result, datetime)
    return result


def site_date(value: datetime | date, site: SiteConfig, fmt: str = "full",
              language: str | None = None) -> str:
    """A date as readers of the site write it: "Rabu, 25 November 2026" for ``id``."""
    local = _as_site_time(value, site)
    return format_date(local, fmt, locale=_babel_locale(language or site.language))


def day_and_month(value: datetime | date, site: SiteConfig, language: str | None = None) -> str:
    """The day as the language writes it, without a leading zero: "3 Desember" (``id``),
    "December 3" (``en``), "3. Dezember" (``de``)."""
    local = _as_site_time(value, site)
    return str(format_skeleton("MMMMd", local, locale=_babel_locale(language or site.language)))


def _site_of(context: Any) -> SiteConfig | None:
    site = context.get("site") if context is not None else None
    return site if site is not None and hasattr(site, "timezone") else None


def _language_in(context: Any, site: SiteConfig | None) -> str:
    language = context.get("language") if context is not None else None
    if isinstance(language, str) and language:
        return language
    return site.language if site is not None else "en"


@jinja2.pass_context
def _date_filter(context: Any, value: datetime | date | None, fmt: str = "full",
                 language: str | None = None) -> str:
    if value is None:
        return ""
    site = _site_of(context)
    lang = _babel_locale(language or _language_in(context, site))
    if site is not None:
        value = _as_site_time(value, site)
    return format_date(value, fmt, locale=lang)


def _clock_filter(formatter: Any, default_fmt: str) -> Any:
    """A jinja2 filter that formats a datetime with ``formatter`` (Babel) in the site's time
    and language."""

    @jinja2.pass_context
    def render(context: Any, value: datetime | None, fmt: str = default_fmt,
               language: str | None = None) -> str:
        if value is None:
            return ""
        site = _site_of(context)
        lang = _babel_locale(language or _language_in(context, site))
        if site is not None:
            local = _as_site_time(value, site)
            assert isinstance(local, datetime)
            value = local
        return str(formatter(value, fmt, tzinfo=value.tzinfo, locale=lang))

    return render


_datetime_filter = _clock_filter(format_datetime, "medium")
_time_filter = _clock_filter(format_time, "short")


def hostname(url: str | None) -> str:
    """``https://www.rinews.example/berita/x`` -> ``rinews.example``."""
    if not url:
        return ""
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    return host.removeprefix("www.")


def link_line(label: str, url: str, width: int = 72) -> str:
    """``"Read more: URL"`` for plain text, the URL on a line of its own when the whole would
    be wider than ``width`` (URLs are never wrapped)."""
    line = f"{label}: {url}"
    return line if len(line) <= width else f"{label}:\n{url}"


# --------------------------------------------------------------------------- headline and lede


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


# --------------------------------------------------------------------------- hashtags

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def hashtag(tag: str) -> str | None:
    """A tag as a hashtag both X and Telegram recognise: ``"Rusia China"`` -> ``#RusiaChina``.

    Letters, digits and underscores only; None when nothing usable remains (or only digits,
    which neither platform links).
    """
    parts = [p for p in _NON_WORD.split(tag.strip().lstrip("#")) if p]
    if not parts:
        return None
    body = parts[0] if len(parts) == 1 else "".join(p[:1].upper() + p[1:] for p in parts)
    if body.replace("_", "").isdigit():
        return None
    return f"#{body}"


def hashtags(tags: list[str]) -> list[str]:
    """Distinct hashtags for ``tags``, in order (case-insensitively deduplicated)."""
    seen: set[str] = set()
    out: list[str] = []
    for tag in tags:
        tagged = hashtag(tag)
        if tagged and tagged.casefold() not in seen:
            seen.add(tagged.casefold())
            out.append(tagged)
    return out


# --------------------------------------------------------------------------- templates


def builtin_templates_dir() -> Path:
    """The built-in templates: inside the package when installed from a wheel (pyproject
    force-includes ``templates/`` as ``distributor/templates``), else the repository's
    top-level ``templates/`` (editable install, source checkout)."""
    package = Path(distributor.__file__).resolve().parent
    packaged = package / "templates"
    if packaged.is_dir():
        return packaged
    return package.parent / "templates"


def _autoescape(name: str | None) -> bool:
    """HTML is escaped, text is not. Templates given as strings are not."""
    if name is None:
        return False
    return name.rsplit(".", 1)[-1].lower() in ("html", "htm", "xml", "xhtml")


class Templates:
    """Jinja2 templates: the user's folder first, then the built-in ones.

    ``.html`` templates are autoescaped, ``.txt`` templates are not. Filters: ``date``,
    ``datetime``, ``time`` (Babel, in the site's language and time zone, read from the ``site``
    and ``language`` variables of the template), ``hostname``; ``wordwrap`` is Jinja's own.
    """

    def __init__(self, user_dir: str | Path | None = None, *,
                 builtin_dir: str | Path | None = None):
        self.builtin_dir = Path(builtin_dir) if builtin_dir is not None else \
            builtin_templates_dir()
        self.user_dir = Path(user_dir) if user_dir is not None else None
        if self.user_dir is not None and not self.user_dir.is_dir():
            raise FileNotFoundError(
                f"the templates folder {self.user_dir} does not exist; create it or remove "
                "templates: from the configuration")
        loaders: list[jinja2.BaseLoader] = []
        if self.user_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(self.user_dir)))
        builtin = jinja2.FileSystemLoader(str(self.builtin_dir))
        loaders.append(builtin)
        loaders.append(jinja2.PrefixLoader({"builtin": builtin}))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=_autoescape,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["date"] = _date_filter
        self.env.filters["datetime"] = _datetime_filter
        self.env.filters["time"] = _time_filter
        self.env.filters["hostname"] = hostname
        self.env.globals["words"] = words
        self.env.globals["link_line"] = link_line

    @classmethod
    def from_config(cls, config: Config) -> Templates:
        return cls(config.templates)

    def get(self, name: str) -> jinja2.Template:
        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound:
            where = [str(self.user_dir)] if self.user_dir else []
            where.append(str(self.builtin_dir))
            raise jinja2.TemplateNotFound(
                name, message=f"template {name!r} not found in {' or '.join(where)}") from None

    def exists(self, name: str) -> bool:
        try:
            self.env.get_template(name)
        except jinja2.TemplateNotFound:
            return False
        return True

    def render(self, name: str, /, **context: Any) -> str:
        return self.get(name).render(**context)

    def __repr__(self) -> str:
        return f"Templates(user_dir={self.user_dir!r}, builtin_dir={self.builtin_dir!r})"


def channel_template(ctx: Any, default: str, *, kind: str = "") -> str:
    """The template a channel names (``template:`` in its config), else ``default``.

    ``{kind}`` in the name is replaced by ``kind`` ("digest", "article"), so one channel can
    name a template per kind of mail: ``email/mine-{kind}.html``.
    """
    name = getattr(getattr(ctx, "channel", None), "template", None)
    if not isinstance(name, str) or not name.strip():
        return default
    return name.strip().replace("{kind}", kind)


@cache
def _default_templates() -> Templates:
    return Templates()


def templates_for(ctx: Any) -> Templates:
    """The :class:`Templates` of a render context (the built-in ones when it has none)."""
    found = getattr(ctx, "templates", None)
    if isinstance(found, Templates):
        return found
    return _default_templates()

