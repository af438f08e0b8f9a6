"""Logging: readable lines on a terminal, JSON lines with --log-format json; secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote

# A Telegram bot token inside a URL: /bot123456:ABC-def.../
_BOT_TOKEN = re.compile(r"(bot)\d{3,}:[A-Za-z0-9_-]{20,}")
#: paths whose last part is a secret (signed links mailed to subscribers); more are added
#: with :func:`add_secret_paths` (a webhook's secret path)
_SECRET_PATHS = ["/unsubscribe/", "/confirm/"]
_secret_path_re: re.Pattern[str] | None = None


def _secret_paths() -> re.Pattern[str]:
    global _secret_path_re
    if _secret_path_re is None:
        prefixes = "|".join(re.escape(p) for p in sorted(set(_SECRET_PATHS), key=len,
                                                          reverse=True))
        _secret_path_re = re.compile(rf"({prefixes})[^\s\"'?#/]+")
    return _secret_path_re


def add_secret_paths(prefixes: Iterable[str]) -> None:
    """Redact what follows any of these path prefixes (``/hooks/``) in every log line."""
    global _secret_path_re
    new = [p for p in prefixes if p and p.startswith("/") and p != "/"]
    if new:
        _SECRET_PATHS.extend(new)
        _secret_path_re = None


class RedactingFilter(logging.Filter):
    """Replaces every known secret, and anything shaped like a bot token, in log records."""

    def __init__(self, secrets: list[str] | None = None):
        super().__init__()
        self.secrets = sorted({s for s in secrets or [] if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
            quoted = quote(secret, safe="")
            if quoted != secret:  # in a URL's query or path (a token's ':' as %3A)
                text = text.replace(quoted, "***")
        text = _secret_paths().sub(r"\1<redacted>", text)
        return _BOT_TOKEN.sub(r"\1<redacted>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


#: ``log.warning(..., extra=PLAIN)``: a line of the command's own answer (a configuration's
#: warning, ``warning: FILE:LINE: ...``), shown without a time stamp like its error lines;
#: with --log-format json it is a JSON object as every other record
PLAIN = {"plain": True}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        if getattr(record, "plain", False):
            return f"{level}{record.getMessage()}"
        # the machine's local time, with its date and zone: "2026-12-03 15:47:20 WIB"
        stamp = datetime.fromtimestamp(record.created).astimezone().strftime(
            "%Y-%m-%d %H:%M:%S %Z")
        line = f"{stamp} {level}{record.getMessage()}"
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


_filter = RedactingFilter()

#: libraries that log every request (httpx, at INFO) or their routine: from WARNING (-v: all)
_NOISY = ("httpx", "httpcore", "apscheduler", "alembic", "telegram", "tweepy", "urllib3",
          "requests_oauthlib", "oauthlib", "aiosmtplib")
#: loggers whose records only repeat, with the whole answer and a traceback, a failure their
#: library raises to its caller, which the project reports in one line: shown with -v only.
#: python-telegram-bot's requests log a non-JSON answer (a web server's or a proxy's HTML
#: page) whole, with the JSONDecodeError's traceback, then raise.
_REPEATERS = ("telegram.request",)
#: the libraries that talk to platforms, queues and schedulers: a record of theirs is one line
#: without a traceback unless -v (a platform's bad answer is never a traceback)
#: (not procrastinate: it logs the exceptions of the project's own jobs, whose tracebacks are
#: what a bug report needs; apscheduler's jobs are wrapped and log their own)
_LIBRARIES = (*_NOISY, "requests", "atproto", "atproto_client", "atproto_core",
              "psycopg", "psycopg_pool")
_OFF = logging.CRITICAL + 10
#: the longest a library's line, or the error it names, is shown (a whole page is not)
LIBRARY_LINE_MAX = 300


class LibraryLines(logging.Filter):
    """Makes a third-party library's record one line: its message's first line, then the
    type and the first line of its exception instead of a traceback, each cut short. The
    redaction of the handler's :class:`RedactingFilter` (added after it) applies to the line.
    """

    def __init__(self, libraries: Iterable[str] = _LIBRARIES):
        super().__init__()
        self.libraries = tuple(libraries)

    def _of_library(self, name: str) -> bool:
        return any(name == lib or name.startswith(lib + ".") for lib in self.libraries)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._of_library(record.name):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's business
            return True
        # redacted whole before it is cut: a secret cut in half would no longer be found
        line = _first_line(self._redacted(record.name, message))
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            said = _first_line(self._redacted(record.name, str(error)))
            line += f" ({type(error).__name__}{': ' + said if said else ''})"
        elif record.exc_text:  # formatted already (a logger's SecretFilter redacted it)
            last = record.exc_text.strip().splitlines()[-1]
            line += f" ({_first_line(self._redacted(record.name, last))})"
        if line != message or record.args or record.exc_info or record.exc_text:
            record.msg, record.args = line, None
            record.exc_info = record.exc_text = record.stack_info = None
        return True


    @staticmethod
    def _redacted(name: str, text: str) -> str:
        return _filter.redact(_loggers_redaction(name, text))


def _loggers_redaction(name: str, text: str) -> str:
    """``text`` redacted by the :class:`SecretFilter` of logger ``name`` and its parents (the
    handler's :class:`RedactingFilter` redacts the line again after)."""
    logger: logging.Logger | None = logging.getLogger(name)
    while logger is not None:
        for each in logger.filters:
            if isinstance(each, SecretFilter):
                text = each.redact(text)
        logger = logger.parent
    return text


def _first_line(text: str) -> str:
    """The first line of ``text`` that says something, at most :data:`LIBRARY_LINE_MAX`."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= LIBRARY_LINE_MAX else line[:LIBRARY_LINE_MAX - 1] + "…"


def setup_logging(fmt: str = "text", verbose: bool = False) -> None:
    """One handler on stderr, secrets redacted. Without ``verbose``: the project's INFO lines,
    the libraries' from WARNING and each in one line (no traceback), and nothing of the
    loggers that only repeat what is reported anyway; with it, everything (still redacted)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if not verbose:
        handler.addFilter(LibraryLines())
    handler.addFilter(_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)  # Python's warnings are log lines too (JSON in JSON mode)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    for repeater in _REPEATERS:
        logging.getLogger(repeater).setLevel(logging.DEBUG if verbose else _OFF)


def json_logs() -> bool:
    """Whether the log lines are JSON objects (--log-format json): a command's own lines on
    stderr (its errors, warnings, progress) are then JSON objects too."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)


def add_secrets(secrets: list[str]) -> None:
    """Redact these values from every log line from now on."""
    _filter.secrets = sorted({*_filter.secrets, *(s for s in secrets if len(s) >= 4)},
                             key=len, reverse=True)


def redact(text: str) -> str:
    return _filter.redact(text)


class SecretFilter(logging.Filter):
    """Redacts known secrets (also URL-quoted) and anything matching ``patterns`` from the
    records of the loggers it guards, and says whether an exception chain mentions one.

    Channel adapters keep one each (the Telegram token is in every request URL; X's OAuth keys
    in its headers): a filter on a logger sees only that logger's records, so :meth:`guard`
    puts it on every existing logger below ``loggers`` (call it again when libraries may have
    created new ones). The secrets are also given to the handler's filter (:func:`add_secrets`).
    """

    def __init__(self, loggers: Iterable[str], patterns: Iterable[re.Pattern[str]] = (),
                 replacement: str = "<redacted>"):
        super().__init__()
        self.loggers = tuple(loggers)
        self.patterns = tuple(patterns)
        self.replacement = replacement
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, self.replacement)
            quoted = quote(secret, safe="")
            if quoted != secret:
                text = text.replace(quoted, self.replacement)
        for pattern in self.patterns:
            text = pattern.sub(self.replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's business, not ours
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            clean = self.redact(text)
            if clean != text:
                record.exc_text = clean
        return True

    def guard(self, secrets: Iterable[str]) -> None:
        """Redact ``secrets`` (those of 4 characters or more) from now on (idempotent)."""
        new = [s for s in secrets if s and len(s) >= 4]
        self.secrets.update(new)
        add_secrets(new)
        prefixes = tuple(name.split(".")[0] for name in self.loggers)
        names = set(self.loggers) | {
            name for name in list(logging.root.manager.loggerDict)
            if name.split(".")[0] in prefixes}
        for name in names:
            logger = logging.getLogger(name)
            if self not in logger.filters:
                logger.addFilter(self)

    def clean_chain(self, exc: BaseException) -> bool:
        """True if no exception in the chain of ``exc`` mentions a secret."""
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            text = f"{current!s} {current.args!r}"
            if self.redact(text) != text:
                return False
            current = current.__cause__ or current.__context__
        return True
