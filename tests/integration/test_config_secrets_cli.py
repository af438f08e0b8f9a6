"""What a user sees of channels.yaml's secrets and mistakes on the command line: `check`, `run`
and `serve` say once, one line each with file and line, which secret is written in the file
(never its value; `serve`'s own start: tests/system/test_serve_logs.py); one typo is one
error; the internal fields are no keys; a short token in a feed's address is `***` in errors
and `sources list`."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from feedserver import FeedServer

Run = Callable[..., CompletedProcess[str]]
#: a log line's time stamp ("2026-12-03 15:47:20 WIB "): what follows it is what is said
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ ")

PLAIN = """\
channels:
  - name: telegram
    type: telegram
    chat_id: "@rinewsportal"
    token: 123456789:AAHplainTokenWrittenInTheFile0123456
  - name: x
    type: x
    consumer_key: ${X_API_KEY}
    consumer_secret: abcSecretOfTheConsumer
    access_token: ${X_ACCESS_TOKEN}
    access_token_secret: ${X_ACCESS_TOKEN_SECRET}
  - name: daily
    type: email
    publish: instant
    from: "RI News Portal <redaksi@rinews.example>"
    smtp:
      host: localhost
      password: hunter2
  - name: breaking
    type: telegram
    chat_id: "@rinewsbreaking"
    token: ${TELEGRAM_BOT_TOKEN:-987654321:AAHdefaultTokenInTheFile654321}
"""
SECRETS = ("123456789:AAHplainTokenWrittenInTheFile0123456", "abcSecretOfTheConsumer",
           "hunter2", "987654321:AAHdefaultTokenInTheFile654321", "test-secret-key")
ENV = {"X_API_KEY": "k", "X_ACCESS_TOKEN": "t", "X_ACCESS_TOKEN_SECRET": "ts"}
OUTBOX = """\
channels:
  - name: files
    type: outbox
    path: outbox/
"""


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def said(stderr: str) -> list[str]:
    return [STAMP.sub("", line) for line in stderr.splitlines()]


def test_check_warns_once_of_each_secret_in_the_file_and_still_says_ok(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    path = write_config(PLAIN)
    result = run_cli("--config", path, "check", env=ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{path}: OK (0 sources, 4 channels)\n"
    put = "a secret written in the file; put it in the environment and write"
    assert said(result.stderr) == [
        f"warning: {path}:{line_of(path, 'secret_key:')}: web.secret_key: {put} "
        "${DISTRIBUTOR_SECRET_KEY}",
        f"warning: {path}:{line_of(path, 'token: 123')}: channels[0].token: {put} "
        "${TELEGRAM_TOKEN}",
        f"warning: {path}:{line_of(path, 'consumer_secret:')}: channels[1].consumer_secret: "
        f"{put} ${{X_CONSUMER_SECRET}}",
        f"warning: {path}:{line_of(path, 'hunter2')}: channels[2].smtp.password: {put} "
        "${DAILY_SMTP_PASSWORD}",
        f"warning: {path}:{line_of(path, 'TELEGRAM_BOT_TOKEN:-')}: channels[3].token: a secret "
        "written in the file as the default of ${TELEGRAM_BOT_TOKEN:-...}; put it in the "
        "environment only and write ${TELEGRAM_BOT_TOKEN} without a default",
    ]
    assert not any(secret in result.stdout + result.stderr for secret in SECRETS)


def test_check_of_a_missing_secret_variable_offers_no_default(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    path = write_config(PLAIN)
    result = run_cli("--config", path, "check", env={k: v for k, v in ENV.items()
                                                     if k != "X_API_KEY"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert said(result.stderr) == [
        f"error: {path}:{line_of(path, 'X_API_KEY')}: channels[1].consumer_key: environment "
        "variable X_API_KEY is not set; export X_API_KEY=...",
        f"1 problem in {path}; fix it and run `distributor check` again"]


def test_a_typo_in_a_required_key_is_one_error_line(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    path = write_config(PLAIN.replace('chat_id: "@rinewsportal"', 'chatid: "@rinewsportal"'))
    result = run_cli("--config", path, "check", env=ENV)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = said(result.stderr)
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"error: {path}:{line_of(path, 'chatid')}: channels[0].chatid: "
                               "unknown key 'chatid'. Did you mean 'chat_id'? Known keys here:")
    assert lines[1] == f"1 problem in {path}; fix it and run `distributor check` again"


def test_check_says_its_warnings_as_plain_lines_with_file_and_line_and_json_as_json(
        write_config: Callable[..., Path], run_cli: Run, tmp_path: Path) -> None:
    """A missing article folder, a missing local feed file and a secret in the file: each one
    `warning: FILE:LINE: key: ...` line (no time stamp, as the error lines), said once;
    --log-format json: one JSON object each."""
    path = write_config("""\
sources:
  - name: newsroom
    type: directory
    path: articles/
  - name: portal
    type: feed
    url: feed.xml
""" + OUTBOX, name="site.yaml")
    result = run_cli("--config", path, "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{path}: OK (2 sources, 1 channels)\n"
    assert result.stderr.splitlines() == [
        f"warning: {path}:{line_of(path, 'secret_key:')}: web.secret_key: a secret written in "
        "the file; put it in the environment and write ${DISTRIBUTOR_SECRET_KEY}",
        f"warning: {path}:{line_of(path, 'path: articles/')}: sources[0].path: source "
        f"newsroom: the folder {tmp_path / 'articles'} does not exist (yet); create it or fix "
        "`path:`",
        f"warning: {path}:{line_of(path, 'url: feed.xml')}: sources[1].url: source portal: the "
        f"feed file {tmp_path / 'feed.xml'} does not exist (yet); create it or fix `url:`"]

    import json

    as_json = run_cli("--log-format", "json", "--config", path, "check")
    assert as_json.returncode == 0, as_json.stderr
    records = [json.loads(line) for line in as_json.stderr.splitlines()]
    assert [(r["level"], r["message"]) for r in records] == [
        ("warning", line.removeprefix("warning: ")) for line in result.stderr.splitlines()]


@pytest.mark.parametrize(("key", "value"), [("path", "/etc"),
                                            ("missing_credentials", "{telegram: [FOO]}")])
def test_check_refuses_the_internal_fields_as_keys(
        write_config: Callable[..., Path], run_cli: Run, key: str, value: str) -> None:
    path = write_config(f"{key}: {value}\n" + OUTBOX)
    result = run_cli("--config", path, "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert said(result.stderr)[0] == (
        f"error: {path}:{line_of(path, key + ':')}: {key}: unknown key {key!r}. Known keys "
        "here: channels, database, execution, outbox, site, sources, templates, web.")


def test_run_says_it_once_at_its_start_and_a_dry_run_not_at_all(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    path = write_config(OUTBOX)  # web.secret_key: test-secret-key, written in the file
    warning = (f"warning: {path}:{line_of(path, 'secret_key:')}: web.secret_key: a secret "
               "written in the file; put it in the environment and write "
               "${DISTRIBUTOR_SECRET_KEY}")
    result = run_cli("--config", path, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert said(result.stderr).count(warning) == 1 and said(result.stderr)[0] == warning
    dry = run_cli("--config", path, "run", "--once", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "secret_key" not in dry.stderr


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def test_a_short_token_of_a_feed_is_masked_in_errors_and_the_source_list(
        server: FeedServer, write_config: Callable[..., Path], run_cli: Run) -> None:
    path = write_config(f"""\
sources:
  - name: desk
    type: feed
    url: {server.url("/gone.xml")}?token=SECRETQ&lang=id
""" + OUTBOX)
    server.route("/gone.xml?token=SECRETQ&lang=id", status=404, body=b"no such feed",
                 content_type="text/plain")
    fetched = run_cli("--config", path, "fetch")
    assert fetched.returncode == 1
    assert "?token=***&lang=id answered HTTP 404" in fetched.stderr, fetched.stderr
    listed = run_cli("--config", path, "sources", "list")
    assert "?token=***&lang=id answered HTTP 404" in listed.stdout, listed.stdout
    assert "SECRETQ" not in fetched.stdout + fetched.stderr + listed.stdout + listed.stderr


#: the credentials the repository's channels.yaml takes from the environment
CREDENTIALS = ("DISTRIBUTOR_SECRET_KEY", "TELEGRAM_BOT_TOKEN", "X_API_KEY", "X_API_SECRET",
               "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "SMTP_HOST", "SMTP_USERNAME",
               "SMTP_PASSWORD")


def test_a_dry_run_of_the_repositorys_own_configuration_needs_no_credential(
        run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        sqlite_template: Path) -> None:
    """README: "No credential is needed for a dry run". The repository's channels.yaml takes
    web.secret_key from DISTRIBUTOR_SECRET_KEY, and `run --once --dry-run` stopped there: now
    a throwaway key stands in (said once), and every channel renders into the outbox. (Its
    feed, on the network, is read from a local copy here.)"""
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    root = Path(__file__).resolve().parents[2]
    feed = tmp_path / "feed.xml"
    feed.write_bytes((root / "examples" / "feed.xml").read_bytes())
    config = tmp_path / "channels.yaml"
    config.write_text((root / "channels.yaml").read_text().replace(
        "https://rinews.example/rss.xml", str(feed)))
    shutil.copyfile(sqlite_template, tmp_path / "distributor.db")  # its default, migrated
    (tmp_path / "articles").mkdir()
    article = tmp_path / "articles" / "banjir.md"
    article.write_text("---\ntitle: Banjir di Jakarta Utara\n---\n\nJakarta — Banjir merendam "
                       "tiga kelurahan di Jakarta Utara pada Senin pagi.\n")
    saved = time.time() - 60  # saved a minute ago: not a file still being written
    os.utime(article, (saved, saved))

    result = run_cli("--config", config, "run", "--once", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr and "Traceback" not in result.stderr
    said_lines = said(result.stderr)
    assert said_lines.count("warning: web.secret_key: DISTRIBUTOR_SECRET_KEY not set; a "
                            "throwaway value stands in (dry run)") == 1, said_lines
    table = result.stdout
    for channel in ("telegram", "x"):
        assert re.search(rf"Banjir di Jakarta Utara\s+{channel}\s+\d", table), table
    assert re.search(r"digest: 1 articles\s+daily\s+1\s+\S*daily/digest-", table), table
    assert table.splitlines()[-1].startswith("dry run: nothing was sent; see ")
    assert (tmp_path / "outbox" / "daily").is_dir()

    check = run_cli("--config", config, "check", "--dry-run")
    assert check.returncode == 0, check.stderr
