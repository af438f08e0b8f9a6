"""A library's record is one line at the default level: no traceback, no page, no secret; with
-v it is whole (and still redacted). The project's own records are left as they are."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from distributor import logs
from distributor.logs import LIBRARY_LINE_MAX, LibraryLines, add_secrets, setup_logging

TOKEN = "123456789:AAHsecretTOKENvalue_zz9abcdefghijk"
PAGE = "<!DOCTYPE html>\n<html>\n<body>\n<h1>502 Bad Gateway</h1>\n</body>\n</html>\n"


def failed() -> BaseException:
    try:
        raise ConnectionError(f"POST http://proxy.example/bot{TOKEN}/getUpdates: 502\n{PAGE}")
    except ConnectionError as exc:
        return exc


def emit(name: str, level: int, message: str, *args: object,
         error: BaseException | None = None) -> None:
    exc_info = (type(error), error, error.__traceback__) if error is not None else None
    logging.getLogger(name).log(level, message, *args, exc_info=exc_info)


@pytest.fixture
def library_loggers() -> Iterator[None]:
    """The levels setup_logging gives the libraries' loggers, and the secrets redacted, put
    back afterwards."""
    names = ("telegram", "telegram.request", "telegram.ext.Updater", "procrastinate",
             "procrastinate.worker", "apscheduler", "httpx", "distributor.delivery")
    levels = {name: logging.getLogger(name).level for name in names}
    secrets = list(logs._filter.secrets)
    yield
    logs._filter.secrets = secrets
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("library_loggers")
def test_a_librarys_error_with_a_traceback_is_one_redacted_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    add_secrets([TOKEN])

    emit("telegram.ext.Updater", logging.ERROR, "Exception happened while polling for updates.",
         error=failed())
    emit("procrastinate.worker", logging.ERROR, "Job %s ended with status: Error",
         "drain[7](channel='telegram')", error=failed())

    # (*** by the handler's filter, or <redacted> by the Telegram loggers' own, if they have it)
    err = re.sub(r"bot(\*\*\*|<redacted>)/", "bot***/", capsys.readouterr().err)
    lines = err.splitlines()
    assert lines[0].endswith("error: Exception happened while polling for updates. "
                             "(ConnectionError: POST http://proxy.example/bot***/getUpdates: "
                             "502)")
    # procrastinate logs the exceptions of the project's own jobs: their traceback is kept
    # (what a bug report needs), redacted
    assert lines[1].endswith("error: Job drain[7](channel='telegram') ended with status: Error")
    assert "Traceback (most recent call last)" in err
    assert TOKEN not in err and TOKEN.split(":")[1] not in err


@pytest.mark.usefixtures("library_loggers")
def test_a_secret_across_the_cut_of_a_long_line_is_still_redacted(
        capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    add_secrets([TOKEN])
    # the token straddles the 300th character, where a library's line is cut
    emit("httpx", logging.WARNING, "x" * (LIBRARY_LINE_MAX - 10) + TOKEN + " tail")
    err = capsys.readouterr().err
    assert TOKEN[:8] not in err, err


@pytest.mark.usefixtures("library_loggers")
def test_the_project_keeps_the_traceback_of_its_own_bug(
        capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    try:
        raise KeyError("missing")
    except KeyError as exc:
        emit("distributor.delivery", logging.ERROR, "job %s failed unexpectedly", "poll",
             error=exc)

    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "KeyError: 'missing'" in err


@pytest.mark.usefixtures("library_loggers")
def test_python_telegram_bots_copy_of_a_page_is_shown_with_v_only(
        capsys: pytest.CaptureFixture[str]) -> None:
    """BaseRequest logs a non-JSON answer whole, then raises: the channel reports it."""
    for verbose in (False, True):
        setup_logging(verbose=verbose)
        add_secrets([TOKEN])
        emit("telegram.request.BaseRequest", logging.ERROR,
             'Can not load invalid JSON data: "%s"', PAGE + f"/bot{TOKEN}/getMe", error=failed())
        err = capsys.readouterr().err
        if not verbose:
            assert err == ""
        else:
            assert "Can not load invalid JSON data" in err and "<h1>502 Bad Gateway</h1>" in err
            assert "Traceback (most recent call last)" in err
            assert TOKEN not in err and TOKEN.split(":")[1] not in err


@pytest.mark.usefixtures("library_loggers")
def test_verbose_keeps_a_librarys_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(verbose=True)
    add_secrets([TOKEN])
    emit("procrastinate.worker", logging.ERROR, "Job failed", error=failed())
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "<h1>502 Bad Gateway</h1>" in err
    assert TOKEN not in err


@pytest.mark.usefixtures("library_loggers")
def test_in_json_mode_a_librarys_record_has_no_exception_field(
        capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("json")
    emit("apscheduler.executors.default", logging.ERROR, 'Job "%s" raised an exception',
         "poll", error=failed())
    [line] = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert "exception" not in record
    assert record["message"].startswith('Job "poll" raised an exception (ConnectionError: ')


def test_a_long_line_is_cut_and_only_its_first_line_is_kept() -> None:
    record = logging.LogRecord("httpx", logging.WARNING, __file__, 1, "%s\nsecond line",
                               ("x" * 1000,), None)
    LibraryLines().filter(record)
    message = record.getMessage()
    assert len(message) == LIBRARY_LINE_MAX and message.endswith("…") and "\n" not in message


def test_a_url_quoted_secret_is_redacted_too(capsys: pytest.CaptureFixture[str],
                                             library_loggers: None) -> None:
    """By the handler's filter, on any logger (a plugin's own, which no SecretFilter guards)."""
    secret = "a plugin's key:with/odd+chars"
    setup_logging()
    add_secrets([secret])
    emit("rinews_plugin.hooks", logging.WARNING, "asked https://x.example/?k=%s",
         quote(secret, safe=""))
    err = capsys.readouterr().err
    assert "odd" not in err and "?k=***" in err
