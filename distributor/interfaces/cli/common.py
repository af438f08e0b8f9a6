"""What every command shares: the state (configuration, runtime), one-line user errors,
async commands, and the table and time helpers of the output."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from distributor.logs import PLAIN, add_secrets, json_logs

if TYPE_CHECKING:
    from distributor.config import Config

T = TypeVar("T")
log = logging.getLogger("distributor")
#: the configuration's warnings (a secret written in the file, a missing folder)
config_log = logging.getLogger("distributor.config")
#: a command's own lines on stderr, with --log-format json (see :func:`say`)
cli_log = logging.getLogger("distributor.cli")
_PREFIXES = (("error: ", logging.ERROR), ("warning: ", logging.WARNING))


def say(line: str, *, level: int = logging.INFO) -> None:
    """A line of the command's own on stderr (``error: ...``, ``warning: ...``, a progress
    or a hint line), exactly as written; with --log-format json a JSON object like every log
    line, whose level is the line's ``error: ``/``warning: `` prefix (else ``level``) and
    whose message is the rest."""
    if not json_logs():
        click.echo(line, err=True)
        return
    for prefix, prefixed in _PREFIXES:
        if line.startswith(prefix):
            line, level = line[len(prefix):], prefixed
            break
    cli_log.log(level, "%s", line, extra=PLAIN)


def tell(line: str, problem: bool) -> None:
    """One line of a command's answer: on stdout, or a problem on stderr (:func:`say`, an
    error with --log-format json)."""
    if problem:
        say(line, level=logging.ERROR)
    else:
        click.echo(line)


@contextmanager
def left_out(logger: logging.Logger, said_below: Callable[[logging.LogRecord], bool]
             ) -> Iterator[None]:
    """Leaves out, meanwhile, the log lines of ``logger`` that the command's answer says
    below, once, with what to do."""

    def not_said_below(record: logging.LogRecord) -> bool:
        return not said_below(record)

    logger.addFilter(not_said_below)
    try:
        yield
    finally:
        logger.removeFilter(not_said_below)


def pauses_said_below() -> contextlib.AbstractContextManager[None]:
    """The dispatcher's line that a channel paused (its credentials are unusable) left out."""
    from distributor.engine.send_outcomes import PAUSED_LINE
    from distributor.engine.send_outcomes import log as delivery_log

    return left_out(delivery_log, lambda record: record.msg == PAUSED_LINE)


def source_problems_said_below() -> contextlib.AbstractContextManager[None]:
    """The ingest's warnings (a source's error, an article's problem) left out."""
    return left_out(logging.getLogger("distributor.ingest"),
                    lambda record: record.levelno == logging.WARNING)


class UserError(click.ClickException):
    """A problem the user can fix: printed as one line, exit status 1, no traceback."""

    def show(self, file: Any = None) -> None:
        say(f"error: {self.format_message()}")


def secret_missing(config: Config, exc: Exception) -> UserError:
    """A missing ``web.secret_key`` (the ledger's MissingSecret, which says how to set it) as
    one line at the key's place in the file: ``FILE:LINE: web.secret_key is not set: ...``
    (the line of ``web:`` when it writes no secret_key; the file alone when it has no web:)."""
    return UserError(f"{config.where('web', 'secret_key')}: {exc}")


class State:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        #: the database URL of the configuration, once read (for one-line store errors), and
        #: where it is set (FILE:LINE of ``database:``)
        self.database: str | None = None
        self.database_where: str | None = None
        self._warned: set[str] = set()

    def warn(self, warning: object) -> None:
        """Say a warning about the configuration (a :class:`ConfigError`: ``FILE:LINE: key:
        what to do``) as ``warning: ...``, like the error lines (a JSON object with
        --log-format json); each once a command, however often the file is read."""
        line = str(warning)
        if line not in self._warned:
            self._warned.add(line)
            config_log.warning("%s", line, extra=PLAIN)

    def config(self, *, dry_run: bool = False) -> Config:
        from distributor.config import ConfigErrors
        from distributor.configfile import load_config, resolve_config_path

        try:
            config = load_config(self.config_path, dry_run=dry_run)
        except ConfigErrors as exc:
            for error in exc.errors:
                say(f"error: {error}")
            n = len(exc.errors)
            if n == 1 and exc.errors[0].line is None:  # the file itself (missing, a folder)
                raise SystemExit(2) from None
            say(f"{n} problem{'s' if n != 1 else ''} in {resolve_config_path(self.config_path)}"
                f"; fix {'them' if n != 1 else 'it'} and run `distributor check` again",
                level=logging.ERROR)
            raise SystemExit(2) from None
        add_secrets(config.secrets())
        for warning in config.warnings:  # none in a dry run (load_config leaves them out)
            self.warn(warning)
        self.database = config.database
        self.database_where = config.where("database")
        global _DISPLAY_TZ
        _DISPLAY_TZ = config.site.tz
        return config

    def runtime(self, *, dry_run: bool = False, sends: bool = True,
                channels: Sequence[str] | Callable[[Config], list[str]] | None = None,
                announce: bool = False, store_wait: str | None = None) -> Any:
        """The runtime. ``sends=False`` for commands that send nothing (credentials optional);
        ``channels``: the only channels this command sends to (their names, or a function of
        the configuration), so the credentials of the others are not needed; ``announce``:
        say which channels render only (a dry run the user asked for); ``store_wait``: a
        long-running command that starts while the database does not answer, saying what it
        does meanwhile."""
        config = self.config(dry_run=dry_run or not sends or channels is not None)
        from distributor.runtime import Runtime  # after the configuration: its mistakes first
        from distributor.store.db import StoreError

        if channels is not None and sends and not dry_run:
            names = channels(config) if callable(channels) else list(channels)
            for name in names:
                _channel_of(config, name)
            self.require_credentials(config, names)
        if announce:
            for channel, missing in config.missing_credentials.items():
                log.warning("channel %s: %s not set; rendering only (dry run)", channel,
                            ", ".join(sorted(set(missing))))
            for key, missing in config.stand_ins.items():
                log.warning("%s: %s not set; a throwaway value stands in (dry run)", key,
                            ", ".join(sorted(set(missing))))
        try:
            return Runtime.open(config, dry_run=dry_run, store_wait=store_wait)
        except StoreError as exc:
            raise UserError(str(exc)) from None

    def require_credentials(self, config: Config, names: Sequence[str]) -> None:
        """Stop with the configuration's own errors when one of these channels lacks its
        ${VARS} (the other channels' missing credentials do not matter here)."""
        if not any(name in config.missing_credentials for name in names):
            return
        from distributor.config import ConfigErrors
        from distributor.configfile import load_config

        try:
            load_config(self.config_path)
        except ConfigErrors as exc:
            wanted = [f"channels[{i}]" for i, c in enumerate(config.channels)
                      if c.name in names]
            errors = [e for e in exc.errors
                      if any(e.key == w or e.key.startswith(w + ".") for w in wanted)]
            for error in errors or exc.errors:
                say(f"error: {error}")
            say(f"set the variables above to send to {', '.join(names)}", level=logging.ERROR)
            raise SystemExit(2) from None


def web_extra() -> Any:
    """uvicorn, when the [web] extra is installed; else one line saying to install it."""
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise UserError(f"serve needs the web extra ({exc.name} is not installed): "
                        "pip install 'distributor[web]'") from None
    return uvicorn


def run_async(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        import asyncio

        return asyncio.run(fn(*args, **kwargs))

    return wrapper


_pass_state = click.make_pass_decorator(State)


def pass_state(fn: Callable[..., T]) -> Callable[..., T]:
    """Gives the command its :class:`State`; a user's template that cannot be used (a
    :class:`~distributor.render.problems.TemplateProblem`, met while rendering) ends it with
    one line, as a :class:`UserError`, not a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            problems = sys.modules.get("distributor.render.problems")  # (imported if met)
            if problems is None or not isinstance(exc, problems.TemplateProblem):
                raise
            raise UserError(str(exc)) from None

    return _pass_state(wrapper)

def _print_previews(report: Any, outbox: Path) -> None:
    previews = sorted(report.previews, key=lambda p: p.article_id)  # stable: channel order
    rows = [[str(p.article_id), _short(p.title, 48), p.channel, str(p.messages),
             _rel(p.files[0]) if p.files else ""] for p in previews]
    for outcome in report.digests:
        rows.append(["-", f"digest: {outcome.articles} articles", outcome.channel,
                     "1" if outcome.files else "0",
                     _rel(outcome.files[0]) if outcome.files else outcome.detail])
    if not rows:
        click.echo("nothing would be published")
        return
    click.echo(_table(["ARTICLE", "TITLE", "CHANNEL", "MSGS", "WRITTEN TO"], rows))
    click.echo(f"dry run: nothing was sent; see {_rel(str(outbox))}/")


# --------------------------------------------------------------------------- helpers


def _channel(rt: Any, name: str) -> Any:
    return _channel_of(rt.config, name)


def digest_channel(rt: Any, name: str) -> Any:
    """The channel ``name``, which must send digests (``publish: digest`` on a channel type
    that has them), else one clear line."""
    channel = _channel(rt, name)
    if channel.publish != "digest" or not rt.adapter(channel.name).supports_digest:
        raise UserError(f"channel {channel.name} ({channel.type}, publish: {channel.publish}) "
                        "does not send digests")
    return channel


def _channel_of(config: Config, name: str) -> Any:
    try:
        return config.channel(name)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None


def _print_messages(messages: list[dict[str, Any]]) -> None:
    from distributor.plugin import message_text

    for i, message in enumerate(messages, 1):
        header = f"--- message {i}/{len(messages)}"
        if "method" in message:
            header += f" ({message['method']})"
        if "subject" in message:
            header += f" subject: {message['subject']}"
        click.echo(header)
        click.echo(message["text"] if "subject" in message else message_text(message))


def _write_html(path: str, messages: list[dict[str, Any]], title: str) -> None:
    """A preview to open in a browser: an email's own HTML, else each message on a page."""
    import html as html_lib

    from distributor.plugin import message_text

    if len(messages) == 1 and isinstance(messages[0].get("html"), str):
        page = messages[0]["html"]
    else:
        from distributor.interfaces.web.previews import telegram_html, x_html

        parts = []
        for message in messages:
            text = message_text(message)
            if isinstance(message.get("html"), str):
                body = message["html"]
            elif message.get("parse_mode") == "HTML":  # Telegram: only the tags it allows
                body = f"<div style='font:15px/1.4 sans-serif'>{telegram_html(text)}</div>"
            elif set(message) <= {"text", "image"}:  # a post of a thread
                body = f"<div style='font:15px/1.4 sans-serif'>{x_html(text)}</div>"
            else:
                body = ("<pre style='white-space:pre-wrap;font:15px/1.4 sans-serif'>"
                        + html_lib.escape(text) + "</pre>")
            parts.append(f"<section style='border:1px solid #ccc;border-radius:8px;"
                         f"margin:12px 0;padding:8px 12px'>{body}</section>")
        page = (f"<!doctype html><meta charset='utf-8'><title>{html_lib.escape(title)}</title>"
                f"<body style='max-width:640px;margin:auto'>{''.join(parts)}</body>")
    try:
        Path(path).write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
    say(f"wrote {path}")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


#: times are shown in the site's timezone (set once the configuration is read)
_DISPLAY_TZ: Any = None


def _local(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).astimezone(_DISPLAY_TZ).strftime("%Y-%m-%d %H:%M %Z")


def _short(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _rel(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
    return "\n".join(lines)


