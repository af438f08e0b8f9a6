"""The value types of channels.yaml, each with a parser that says how to write it: durations
("90s", "1h30m"), cron expressions (weekdays as cron counts them), web addresses and language
codes."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from babel import Locale, UnknownLocaleError
from pydantic import BeforeValidator

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


#: query parameters of a web address whose value is a credential (?token=..., &api_key=...,
#: &accessToken=...)
_SECRET_QUERY = re.compile(r"(?i)(token|key|secret|password|passwd|pwd|auth|sig|signature|"
                           r"session|sid)$")
#: shorter values are not taken for credentials: redacting "news" or "2024" from every log
#: line would do more harm than good
_MIN_QUERY_SECRET = 8
#: a user name without a password this long is a token (https://TOKEN@host/feed)
_MIN_TOKEN_USER = 16
_USERINFO = re.compile(r"(?<=//)([^/\s:@]*):[^/\s@]+@")


def url_secrets(url: str) -> list[str]:
    """The credentials written into a web address: the password of ``user:password@`` (or a
    long user name with none: a token), and the values of query parameters named like one
    (``token``, ``api_key``, ``accessToken``, ``sig``...), as they appear in it and decoded,
    for redaction."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return []
    found = [password, unquote(password)] if password else []
    if user and not password and len(user) >= _MIN_TOKEN_USER:
        found += [user, unquote(user)]
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if _SECRET_QUERY.search(name) and len(value) >= _MIN_QUERY_SECRET:
            found.append(value)
            found.extend(raw.partition("=")[2] for raw in parts.query.split("&")
                         if unquote(raw.partition("=")[0]) == name)
    return sorted({f for f in found if len(f) >= 4}, key=len, reverse=True)


def mask_secrets(text: str, secrets: list[str]) -> str:
    """``text`` with each of ``secrets`` (longest first), and the password of any
    ``user:password@`` in a web address, replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return _USERINFO.sub(r"\1:***@", text)
