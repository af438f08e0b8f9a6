"""The value types of channels.yaml, each with a parser that says how to write it: durations
("90s", "1h30m"), cron expressions (weekdays as cron counts them), web addresses and language
codes; ``${NAME}`` references, and the secrets of a configuration: which keys hold one, which
are written in the file, and the credentials of a web address (masked wherever it is shown)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, get_args
from urllib.parse import unquote, urlsplit

from babel import Locale, UnknownLocaleError
from pydantic import AfterValidator, BaseModel, BeforeValidator, SecretBytes, SecretStr

# --------------------------------------------------------------------------- errors


@dataclass
class ConfigError:
    """A problem (or a warning) at a key of a configuration file: ``FILE:LINE: key: what``."""

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


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
KeyPath = tuple[str | int, ...]
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


#: the databases distributor runs on: SQLite (one machine) and PostgreSQL (through psycopg);
#: a URL may name the driver (``postgresql+psycopg://``) as SQLAlchemy writes it
DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")
SUPPORTED_DATABASES = "sqlite:///path/to/distributor.db or postgresql://user@host/dbname"


def database_problem(url: str) -> str | None:
    """What is wrong with ``url`` as the ``database:`` of channels.yaml (None: nothing). Never
    shows the URL itself: it may hold a password."""
    scheme = url.split("://", 1)[0].strip().lower() if "://" in url else ""
    if scheme in DATABASE_SCHEMES:
        return None
    if not scheme:
        return (f"not a database URL; distributor supports SQLite and PostgreSQL: write "
                f"{SUPPORTED_DATABASES}")
    shown = scheme if re.fullmatch(r"[a-z0-9+.-]{1,40}", scheme) else "this kind of"
    return (f"{shown}:// databases are not supported; distributor supports SQLite and "
            f"PostgreSQL: write {SUPPORTED_DATABASES}")


def _database_url(value: str) -> str:
    problem = database_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: ``database:``: a SQLite or PostgreSQL URL (:data:`DATABASE_SCHEMES`)
DatabaseURL = Annotated[str, AfterValidator(_database_url)]


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


#: ``${NAME}`` or ``${NAME:-default}`` in a value of channels.yaml
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


def interpolate(value: str, env: dict[str, str]) -> tuple[str, list[str]]:
    """``value`` with each ``${NAME}`` replaced from ``env`` (or its default), and the names
    that are not set and have no default."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and (env[name] != "" or default is None):
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    return ENV_REF.sub(replace, value), missing


def format_key(path: KeyPath) -> str:
    """A key path as the messages show it: ``channels[0].smtp.password``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = str(part)
            if not part or any(c.isspace() or not c.isprintable() for c in part):
                part = repr(part)  # a key that is blank or holds a line break: visible
            out += f".{part}" if out else part
    return out


def secrets_in_file(raw: dict[KeyPath, Any], models: list[tuple[KeyPath, BaseModel, str]]
                    ) -> list[tuple[KeyPath, str]]:
    """Where channels.yaml writes a secret out instead of taking it from the environment:
    (key path, what to do), never the value. ``raw``: each scalar as the file writes it;
    ``models``: each validated model with its key path and the word its variables are named
    after (a channel's name). A database address's password counts too."""
    found = []
    for prefix, model, word in models:
        for key in secret_keys(model, prefix):
            if key in raw and secret_in_file(raw[key]):
                words = key[len(prefix):] if prefix else key[-1:]
                found.append((key, _put_in_env("a secret", "it", raw[key],
                                               env_name(word, *words))))
    if url_secret_in_file(raw.get(("database",))):
        found.append((("database",), _put_in_env(
            "a password", "the database address", raw[("database",)], "DISTRIBUTOR_DATABASE_URL")))
    return found


def _put_in_env(what: str, it: str, raw: object, name: str) -> str:
    ref = ENV_REF.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if ref is not None and ref.group(2):  # ${NAME:-secret}: the variable is there already
        return (f"{what} written in the file as the default of ${{{ref.group(1)}:-...}}; put "
                f"{it} in the environment only and write ${{{ref.group(1)}}} without a default")
    return f"{what} written in the file; put {it} in the environment and write ${{{name}}}"


def secret_in_file(raw: object) -> bool:
    """Whether a secret written as ``raw`` in channels.yaml is in the file: a value with no
    ``${NAME}`` at all, or a ``${NAME:-default}`` whose default is not empty."""
    if not isinstance(raw, str):
        return raw is not None  # a number, true: written out
    refs = list(ENV_REF.finditer(raw))
    return any(m.group(2) for m in refs) if refs else raw.strip() != ""


def url_secret_in_file(raw: object) -> bool:
    """Whether the password (``user:password@``, ``?password=``) of the web address written
    as ``raw`` in channels.yaml is in the file (a default of ``${NAME:-...}`` is)."""
    if not isinstance(raw, str):
        return False
    text = ENV_REF.sub(lambda m: m.group(2) or "\0", raw)  # "\0": from the environment
    try:
        written = [urlsplit(text).password or ""]
    except ValueError:
        return False
    written += [v for n, _, v in (p.partition("=") for p in urlsplit(text).query.split("&"))
                if credential_param(n)]
    return any(value and "\0" not in value for value in written)


def env_name(*words: object) -> str:
    """A name for an environment variable made of ``words`` ("daily", "smtp.password" ->
    DAILY_SMTP_PASSWORD)."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", "_".join(str(w) for w in words)).strip("_").upper()
    return name if name and not name[0].isdigit() else f"DISTRIBUTOR_{name}"


def secret_keys(model: BaseModel, prefix: KeyPath = ()) -> Iterator[KeyPath]:
    """The key path (as channels.yaml writes it: aliases) of every secret value (SecretStr,
    SecretBytes) of ``model``, in any model, list or mapping below it."""
    for name, field in type(model).model_fields.items():
        yield from _secrets_in(getattr(model, name), (*prefix, field.alias or name))


def _secrets_in(value: object, key: KeyPath) -> Iterator[KeyPath]:
    if isinstance(value, SecretStr | SecretBytes):
        yield key
    elif isinstance(value, BaseModel):
        yield from secret_keys(value, key)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _secrets_in(item, (*key, index))
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _secrets_in(item, (*key, str(name)))


def is_secret_key(model: type[BaseModel], path: KeyPath) -> bool:
    """Whether ``path`` (keys and list indexes below ``model``) names a secret field."""
    types: list[Any] = [model]
    for part in path:
        if isinstance(part, int):
            continue
        types = [t for m in types if isinstance(m, type) and issubclass(m, BaseModel)
                 for name, f in m.model_fields.items() if part in (name, f.alias)
                 for t in _types(f.annotation)]
    return any(t in (SecretStr, SecretBytes) for t in types)


def _types(annotation: Any) -> list[Any]:
    """The classes in an annotation (``SecretStr | None``, ``list[Model]``, Annotated)."""
    args = get_args(annotation)
    if not args:
        return [annotation]
    return [t for arg in args for t in _types(arg)]


#: query parameters whose value is a credential whatever its length (?token=..., &api_key=...,
#: &accessToken=...): names compared in lower case without "_" and "-"
_CREDENTIAL_PARAMS = frozenset({
    "token", "accesstoken", "authtoken", "apitoken", "privatetoken", "refreshtoken", "idtoken",
    "sessiontoken", "key", "apikey", "accesskey", "secretkey", "privatekey", "appkey", "secret",
    "clientsecret", "apisecret", "appsecret", "password", "passwd", "pwd", "pass", "auth",
    "authorization", "sig", "signature", "session", "sessionid", "sid", "jwt", "credential",
    "credentials"})
#: the looser heuristic: any other name that ends like one (?feedkey=..., &x_auth=...); such a
#: value counts as a credential only from this length, so that ?monkey=news never redacts
#: "news" from every log line
_SECRET_QUERY = re.compile(r"(?i)(token|key|secret|password|passwd|pwd|auth|sig|signature|"
                           r"session|sid)$")
_MIN_QUERY_SECRET = 8
#: a user name without a password this long is a token (https://TOKEN@host/feed)
_MIN_TOKEN_USER = 16
_USERINFO = re.compile(r"(?<=//)([^/\s:@]*):[^/\s@]+@")
#: a query parameter anywhere in a text (also HTML-escaped: &amp;token=...)
_QUERY_PARAM = re.compile(r"(?<=[?&;])([A-Za-z0-9_.%-]+)=([^&#\s\"'<>]+)")


def credential_param(name: str) -> bool:
    """Whether a query parameter of this name carries a credential, whatever its value."""
    return re.sub(r"[-_]", "", unquote(name)).lower() in _CREDENTIAL_PARAMS


def url_secrets(url: str) -> list[str]:
    """The credentials written into a web address, for redaction from every log line: the
    password of ``user:password@`` (or a long user name with none: a token), and the values of
    query parameters named like one (``token``, ``api_key``, ``accessToken``, ``sig``...), as
    they appear in it and decoded. A short value of a credential parameter is given with its
    name (``token=abc``), so that only that parameter is redacted, not every "abc"."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return []
    found = [password, unquote(password)] if password else []
    if user and not password and len(user) >= _MIN_TOKEN_USER:
        found += [user, unquote(user)]
    for raw in parts.query.split("&"):
        raw_name, _, raw_value = raw.partition("=")
        name, value = unquote(raw_name.replace("+", " ")), unquote(raw_value.replace("+", " "))
        if not value:
            continue
        if len(value) >= _MIN_QUERY_SECRET and (credential_param(name)
                                                or _SECRET_QUERY.search(name)):
            found += [value, raw_value]
        elif credential_param(name):
            found += [raw, f"{name}={value}"]
    return sorted({f for f in found if len(f) >= 4}, key=len, reverse=True)


def _mask_param(match: re.Match[str]) -> str:
    return f"{match.group(1)}=***" if credential_param(match.group(1)) else match.group(0)


def mask_secrets(text: str, secrets: list[str]) -> str:
    """``text`` with the value of every query parameter named like a credential
    (``?token=***``), the password of any ``user:password@`` in a web address, and each of
    ``secrets`` (longest first) replaced by ``***``."""
    text = _QUERY_PARAM.sub(_mask_param, text)
    for secret in secrets:
        text = text.replace(secret, "***")
    return _USERINFO.sub(r"\1:***@", text)
