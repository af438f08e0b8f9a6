"""channels.yaml -> typed, validated configuration (Contract 1 of DESIGN.md).

Every problem is reported with the file, the line, the key path and a hint, and all problems
are reported at once: :class:`ConfigErrors` carries the whole list.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
)

from distributor.values import (
    ConfigError as ConfigError,
)
from distributor.values import (
    ConfigErrors as ConfigErrors,
)
from distributor.values import (
    DatabaseURL,
    _positive,
    url_secrets,
)
from distributor.values import (
    Duration as Duration,
)
from distributor.values import (
    Seconds as Seconds,
)
from distributor.values import (
    cron_trigger as cron_trigger,
)
from distributor.values import (
    language_code as language_code,
)
from distributor.values import (
    parse_duration as parse_duration,
)
from distributor.values import (
    validate_cron as validate_cron,
)
from distributor.values import (
    web_address as web_address,
)

DEFAULT_CONFIG = "channels.yaml"

# --------------------------------------------------------------------------- models


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


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



def nearest_line(lines: dict[Any, int], key: tuple[str | int, ...]) -> int | None:
    """The line of ``key`` in the file, else of the nearest enclosing key it writes, else None."""
    while key and key not in lines:
        key = key[:-1]
    return lines[key] if key else None


class Config(Strict):
    site: SiteConfig
    database: DatabaseURL = "sqlite:///distributor.db"
    execution: Literal["embedded", "distributed"] = "embedded"
    web: WebConfig = Field(default_factory=WebConfig)
    templates: Path | None = Field(
        default=None, description="a folder whose templates override the built-in ones"
    )
    outbox: Path = Field(default=Path("outbox"), description="where --dry-run writes")
    sources: list[SourceConfig] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(default_factory=list)

    # set by load_config, never read from the file (private: not keys of channels.yaml)
    _path: Path | None = PrivateAttr(default=None)
    _missing_credentials: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    _warnings: list[ConfigError] = PrivateAttr(default_factory=list)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)
    _stand_ins: dict[str, list[str]] = PrivateAttr(default_factory=dict)

    @property
    def path(self) -> Path | None:
        """The file this configuration was read from."""
        return self._path

    @path.setter
    def path(self, value: Path | None) -> None:
        self._path = value

    @property
    def missing_credentials(self) -> dict[str, list[str]]:
        """Channel name -> the ${VARS} it lacks (a disabled channel, or under --dry-run)."""
        return self._missing_credentials

    @missing_credentials.setter
    def missing_credentials(self, value: dict[str, list[str]]) -> None:
        self._missing_credentials = value

    @property
    def warnings(self) -> list[ConfigError]:
        """What the file should say otherwise although it works (a secret written in it)."""
        return self._warnings

    @warnings.setter
    def warnings(self, value: list[ConfigError]) -> None:
        self._warnings = value

    @property
    def stand_ins(self) -> dict[str, list[str]]:
        """Settings a dry run filled in because their ${VARS} are not set (a dry run needs no
        credential): key -> the variables (``web.secret_key`` gets a throwaway key)."""
        return self._stand_ins

    def locate(self, lines: dict[tuple[str | int, ...], int],
               stand_ins: dict[str, list[str]]) -> None:
        """Set by load_config: the line of each key path of the file, the dry run's stand-ins."""
        self._lines, self._stand_ins = lines, stand_ins

    def line(self, *key: str | int) -> int | None:
        """The line of a key (``"sources", 0, "path"``), or of the nearest enclosing key the
        file writes; None when it writes none of them."""
        return nearest_line(self._lines, key)

    def where(self, *key: str | int) -> str:
        """``FILE:LINE`` of a key (``where("database")``; ``FILE`` alone when the file does not
        write it): for a message that sends the user to the setting."""
        line, file = self.line(*key), str(self.path or "the configuration file")
        return f"{file}:{line}" if line else file

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
        for source in self.sources:  # a feed's address may carry a password or a token
            if isinstance(source, FeedSourceConfig):
                found.extend(url_secrets(source.url))
        return found


SOURCE_TYPES = {"feed": FeedSourceConfig, "directory": DirectorySourceConfig}


def known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys of the block at ``loc`` (a validation error's) below ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if isinstance(part, str) and part in SOURCE_TYPES and current is Config:
            continue
        if isinstance(part, str) and part in SOURCE_TYPES:
            current = SOURCE_TYPES[part]
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            # discriminated unions: look through every member
            return []
        annotation = fields[part].annotation
        current = _model_in(annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return [f.alias or name for name, f in fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None
