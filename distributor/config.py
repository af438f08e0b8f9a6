"""channels.yaml -> typed, validated configuration (Contract 1 of DESIGN.md).

Every problem is reported with the file, the line, the key path and a hint, and all problems
are reported at once: :class:`ConfigErrors` carries the whole list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
)

DEFAULT_CONFIG = "channels.yaml"

# --------------------------------------------------------------------------- errors


@dataclass
class ConfigError:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class ConfigErrors(Exception):
    """One or more problems in a configuration file."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


# --------------------------------------------------------------------------- value types

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"5m"``, ``"1h30m"``, ``"2d"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isdigit():
            return timedelta(seconds=int(text))
        pos, seconds = 0, 0.0
        for match in _DURATION_RE.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if text and pos == len(text):
            return timedelta(seconds=seconds)
    raise ValueError(
        f"{value!r} is not a duration: write it like 30s, 5m, 1h30m or 2d"
    )


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
#: a number of seconds, also written as a duration ("20s", "1m")
Seconds = Annotated[float, BeforeValidator(lambda v: parse_duration(v).total_seconds())]


def _positive(value: timedelta) -> timedelta:
    if value.total_seconds() <= 0:
        raise ValueError("must be longer than zero")
    return value


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _cron_weekday(field: str) -> str:
    """A crontab weekday field in APScheduler's words: cron counts 0 (and 7) as Sunday,
    APScheduler's numbers start on Monday, so numbers (and numeric ranges) become day names."""
    parts = []
    for part in field.split(","):
        base, _, step = part.partition("/")
        bounds = base.split("-")
        if all(b.isdigit() and int(b) <= 7 for b in bounds) and len(bounds) in (1, 2):
            first, last = int(bounds[0]), int(bounds[-1])
            if len(bounds) == 1 and not step:
                parts.append(_CRON_DAYS[first])
                continue
            if len(bounds) == 1:
                last = 7 if first else 6
            every = int(step) if step.isdigit() and int(step) > 0 else 1
            parts.extend(_CRON_DAYS[n] for n in range(first, last + 1, every))
        else:
            parts.append(part)
    return ",".join(dict.fromkeys(parts))


def cron_trigger(expr: str, timezone: Any = "UTC") -> Any:
    """An APScheduler trigger for a crontab line, reading its weekdays as cron does."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) == 5:
        minute, hour, day, month, weekday = fields
        return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                           day_of_week=_cron_weekday(weekday), timezone=timezone)
    return CronTrigger.from_crontab(expr, timezone=timezone)


def validate_cron(expr: str, timezone: str = "UTC") -> str:
    from apscheduler.triggers.cron import CronTrigger

    usage = ('use five fields "minute hour day month weekday", e.g. "0 6 * * *" for 06:00 '
             "every day")
    try:
        cron_trigger(expr, timezone=timezone)
    except (ValueError, TypeError) as exc:
        fields = expr.split()
        if len(fields) != 5:
            raise ValueError(f"{expr!r} has {len(fields)} fields; {usage}") from None
        names = ("minute", "hour", "day", "month", "day_of_week")
        ranges = ("0-59", "0-23", "1-31", "1-12", "0-6 or mon-sun")
        for name, shown, allowed, field in zip(names, ("minute", "hour", "day", "month",
                                                       "weekday"), ranges, fields, strict=True):
            try:
                CronTrigger(**{name: _cron_weekday(field) if name == "day_of_week" else field},
                            timezone=timezone)
            except (ValueError, TypeError):
                raise ValueError(f"{expr!r}: the {shown} {field!r} is not valid (allowed: "
                                 f"{allowed}, *, lists, ranges and steps); {usage}") from None
        raise ValueError(f"{expr!r} is not a valid cron expression ({exc}); {usage}") from None
    return expr


# --------------------------------------------------------------------------- models


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def web_address(value: str, example: str) -> str:
    """``value`` if it is a full http(s) address with a host; else a ValueError that shows how
    to write it."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        hint = f"https://{value.strip()}" if value.strip() and "://" not in value else example
        raise ValueError(f"{value!r} is not a full web address; write it with its scheme, "
                         f"such as {hint}")
    return value.strip()


def language_code(value: str) -> str:
    """``value`` if it is a language code Babel knows ("id", "en", "id-ID", "pt_BR")."""
    code = value.strip()
    try:
        if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*", code):
            raise ValueError(code)
        Locale.parse(code.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        raise ValueError(f"{value!r} is not a language code; write a code such as id, en or "
                         "id-ID (ISO 639)") from None
    return code


class SiteConfig(Strict):
    name: str
    url: str
    language: str = "en"
    timezone: str = "UTC"
    image_allow_hosts: list[str] = Field(
        default_factory=list,
        description="hosts on the newsroom's own network whose images may be downloaded "
                    "although their addresses are private (an intranet CMS): names, addresses "
                    "or networks such as 10.20.0.0/16; every other private, loopback, "
                    "link-local or reserved address is refused")

    @field_validator("url")
    @classmethod
    def _full_url(cls, value: str) -> str:
        return web_address(value, "https://rinews.example")

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        return language_code(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Asia/Jakarta or UTC"
            ) from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class WebConfig(Strict):
    base_url: str = "http://localhost:8000"
    secret_key: SecretStr | None = None
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks of reverse proxies whose X-Forwarded-For and "
                    "X-Forwarded-Proto are believed (default: none; every client is the "
                    "address that connected)")
    max_body: int = Field(
        default=64 * 1024, ge=1024,
        description="largest request body in bytes (forms, webhooks); larger ones get 413")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or network; write e.g. "
                                 "10.0.0.5 or 172.16.0.0/12") from None
        return [entry.strip() for entry in value]

    @field_validator("base_url")
    @classmethod
    def _full_base_url(cls, value: str) -> str:
        return web_address(value, "https://news.example")


class SourceBase(Strict):
    name: str
    every: Annotated[Duration, BeforeValidator(parse_duration)] = timedelta(minutes=5)
    max_age: Duration = Field(
        default=timedelta(days=2),
        description="articles older than this when first seen are stored but not posted",
    )
    language: str | None = None
    tags: list[str] = Field(default_factory=list)
    max_article_bytes: int = Field(
        default=2 * 1024 * 1024, gt=0,
        description="an article file or feed item larger than this is skipped with a problem "
                    "line (never read whole into memory)",
    )

    @field_validator("every")
    @classmethod
    def _every_positive(cls, value: timedelta) -> timedelta:
        return _positive(value)


class FeedSourceConfig(SourceBase):
    type: Literal["feed"]
    url: str
    timeout: Duration = timedelta(seconds=20)
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str | None = None

    @field_validator("url")
    @classmethod
    def _http_or_local(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in ("", "http", "https", "file"):
            raise ValueError(f"a feed is read over http(s) or from a local file, not {scheme}://; "
                             "write https://... or a path")
        return value


class DirectorySourceConfig(SourceBase):
    type: Literal["directory"]
    path: Path
    url_template: str | None = None
    settle: Duration = Field(
        default=timedelta(seconds=1),
        description="a file changed more recently than this is read on the next poll, so a "
                    "file still being written is never published half-finished",
    )

    @field_validator("url_template")
    @classmethod
    def _known_fields(cls, value: str | None) -> str | None:
        if value is None:
            return value
        fields = set(re.findall(r"{(\w*)}", value))
        unknown = fields - {"slug", "stem", "date"}
        if unknown:
            raise ValueError(
                f"url_template uses {sorted(unknown)}; only {{slug}}, {{stem}} and {{date}} exist"
            )
        return value


SourceConfig = Annotated[
    FeedSourceConfig | DirectorySourceConfig, Field(discriminator="type")
]


class UtmConfig(Strict):
    """``utm:`` of a channel: the UTM parameters added to every article link in its posts
    and digests (values may use ``{channel}``, ``{date}``, ``{slug}``)."""

    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None


#: tracking parameters removed from article links by default (``strip_params``)
DEFAULT_STRIP_PARAMS = ["utm_*", "fbclid", "gclid"]


class ChannelConfig(Strict):
    """Keys every channel has. Adapters subclass it with their own keys."""

    name: str
    type: str
    publish: Literal["instant", "digest", "manual"] = "instant"
    enabled: bool = True
    template: str | None = Field(
        default=None, description="the channel's own template (a name in the templates folder)"
    )
    max_posts_per_day: int | None = Field(
        default=None, ge=1, description="at most this many posts in any 24 hours; the rest wait"
    )
    rate_per_minute: float | None = Field(
        default=None, gt=0, description="posts a minute on this channel (default: the "
        "platform's safe rate, 20 for Telegram, 30 for X)"
    )
    utm: UtmConfig | None = Field(
        default=None, description="UTM parameters added to every article link of this "
        "channel (source, medium, campaign; values may use {channel}, {date}, {slug})"
    )
    strip_params: list[str] = Field(
        default_factory=lambda: list(DEFAULT_STRIP_PARAMS), description="tracking parameters "
        "removed from article links before posting (a trailing * matches any ending)"
    )
    min_interval: Duration | None = Field(
        default=None, description="at least this long between two posts of this channel "
        "(5m: ten articles arriving at once go out five minutes apart, in order)"
    )
    on_update: Literal["ignore", "edit", "note"] = Field(
        default="ignore", description="when a published article changes at its source: "
        "ignore it, edit the posts in place (as `distributor correct`), or add a note "
        "(the correction carries \"updated at the source\")"
    )


class Config(Strict):
    site: SiteConfig
    database: str = "sqlite:///distributor.db"
    execution: Literal["embedded", "distributed"] = "embedded"
    web: WebConfig = Field(default_factory=WebConfig)
    templates: Path | None = Field(
        default=None, description="a folder whose templates override the built-in ones"
    )
    outbox: Path = Field(default=Path("outbox"), description="where --dry-run writes")
    sources: list[SourceConfig] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(default_factory=list)

    # set by load_config, not from the file
    path: Path | None = Field(default=None, exclude=True)
    missing_credentials: dict[str, list[str]] = Field(default_factory=dict, exclude=True)

    def channel(self, name: str) -> ChannelConfig:
        for channel in self.channels:
            if channel.name == name:
                return channel
        known = ", ".join(c.name for c in self.channels) or "none"
        raise KeyError(f"no channel named {name!r} in the configuration (channels: {known})")

    def source(self, name: str) -> FeedSourceConfig | DirectorySourceConfig | None:
        for source in self.sources:
            if source.name == name:
                return source
        return None

    def secrets(self) -> list[str]:
        """Every secret value in the configuration, for log redaction."""
        found: list[str] = []

        def walk(obj: Any) -> None:
            if isinstance(obj, SecretStr):
                value = obj.get_secret_value()
                if value:
                    found.append(value)
            elif isinstance(obj, BaseModel):
                for name in type(obj).model_fields:
                    walk(getattr(obj, name))
            elif isinstance(obj, list | tuple):
                for item in obj:
                    walk(item)

        walk(self)
        return found


