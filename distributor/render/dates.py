"""Dates as the site's readers write them: in the site's time zone and language (Babel), and
the date filters of the templates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_skeleton, format_time

from distributor.clock import utcnow
from distributor.render.words import _base_language

if TYPE_CHECKING:
    from distributor.config import SiteConfig

__all__ = ["day_and_month", "local_now", "site_clock", "site_date"]


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
    result = _as_site_time(now or utcnow(), site)
    assert isinstance(result, datetime)
    return result


def site_clock(value: datetime, site: SiteConfig) -> str:
    """A moment for the engineer's eyes, in the site's time zone and labelled with it:
    "2026-12-03 15:47 WIB"."""
    local = _as_site_time(value, site)
    return local.strftime("%Y-%m-%d %H:%M %Z")


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
