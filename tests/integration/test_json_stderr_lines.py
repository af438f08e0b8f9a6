"""`--log-format json`: every line a one-shot command writes to stderr is one JSON object
(user audit). The log lines were; the command's own lines were not: `check`'s and `fetch`'s
errors and warnings, `push`'s and `run --once`'s verdicts, a configuration's errors, a usage
error, `preview --html`'s "wrote FILE", `subscribers import`'s bad rows, `digest send`'s
progress came out as plain text between the JSON objects. Now each is an object with the
level its prefix said (``error: ...``: "error"; a summary without one: the level it has) and
the rest as its message, from the logger ``distributor.cli``; with the text format (the
default) they are the same lines as before, byte for byte; stdout is the same in both.

The CLI in process (``run_cli``), a real SQLite file, the Telegram double in an outage, a
feed nobody serves, a folder with an empty article file."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fakes.telegram_api import FakeTelegram
from support.channel_runs import add_articles, open_runtime
from support.smtp_server import SmtpServer, email_channel_yaml
from support.timeouts import ANSWERED

import distributor.engine.dispatcher as dispatcher_module
import distributor.interfaces.cli.digests as digests_module
import distributor.ledger.deliveries as deliveries_module
from distributor.channels.telegram.adapter import TelegramAdapter
from distributor.ledger.subscribers import add_subscriber

Run = Callable[..., subprocess.CompletedProcess[str]]
ENV = {"DISTRIBUTOR_SECRET_KEY": "test-secret-key"}
OUTAGE = "Telegram is unavailable: 501 Not Implemented"
WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d WIB"
#: a log line's time stamp in the text format (the command's own lines have none)
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ ")


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries after 0.1 s, a push waiting 0.5 s at most for its channel, no pacing; the
    variables set here too (the tests open the runtime)."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(deliveries_module, "BACKOFF_BASE", 0.1)
    monkeypatch.setattr(dispatcher_module, "PACING_WAIT_MAX", 0.5)
    monkeypatch.setattr(TelegramAdapter, "rate_per_minute", 1200)


@pytest.fixture
def nobody() -> str:
    """The address of a feed nobody serves (a port just closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"


def secret_from_env(path: Path) -> Path:
    """web.secret_key from the environment: no warning of a secret written in the file."""
    path.write_text(path.read_text().replace("secret_key: test-secret-key",
                                             "secret_key: ${DISTRIBUTOR_SECRET_KEY}"))
    return path


@pytest.fixture
def newsroom(write_config: Callable[..., Path], tg: FakeTelegram, tmp_path: Path,
             nobody: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RINEWS_TG_TOKEN", tg.token)
    desk = tmp_path / "desk"
    desk.mkdir()
    empty = desk / "kosong.md"
    empty.write_text("")
    os.utime(empty, (time.time() - 60, time.time() - 60))  # not being written any more
    config = secret_from_env(write_config(f"""\
sources:
  - name: wire
    type: feed
    url: {nobody}
  - name: desk
    type: directory
    path: {desk}
    url_template: https://rinews.example/berita/{{slug}}
channels:
  - name: breaking
    type: telegram
    chat_id: "{tg.channel.handle}"
    token: ${{RINEWS_TG_TOKEN}}
    api_base_url: {tg.url}
    timeout: {ANSWERED}
    reconcile_wait: 0
"""))
    rt = open_runtime(config)
    add_articles(rt, 1)
    rt.store.dispose()
    tg.server_error(501, "Not Implemented", times=10_000)
    yield config


def own_lines(result: subprocess.CompletedProcess[str], fmt: str) -> list[tuple[str, str]]:
    """What the command said itself on stderr, as (level, message): in JSON the objects of
    the loggers distributor.cli and distributor.config (every line must be an object with a
    level and a message); in text the lines without a log line's time stamp, their level read
    from their prefix (none: "-")."""
    lines = result.stderr.splitlines()
    if fmt == "json":
        records = [json.loads(line) for line in lines]  # each line: one object
        assert all({"time", "level", "logger", "message"} <= set(r) for r in records), lines
        return [(r["level"], r["message"]) for r in records
                if r["logger"] in ("distributor.cli", "distributor.config")]
    assert not any(line.startswith("{") for line in lines), lines
    said = []
    for line in lines:
        if STAMP.match(line):
            continue
        level, _, rest = line.partition(": ")
        said.append((level, rest) if level in ("error", "warning") else ("-", line))
    return said


def matches(said: list[tuple[str, str]], fmt: str,
            expected: list[tuple[str, str, str]]) -> bool:
    """``expected``: (level in JSON, level in text: "-" for a line without a prefix, the
    message as a regular expression)."""
    if len(said) != len(expected):
        return False
    return all(level == (json_level if fmt == "json" else text_level)
               and re.fullmatch(pattern, message) is not None
               for (level, message), (json_level, text_level, pattern) in zip(said, expected,
                                                                              strict=True))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_line_a_one_shot_command_writes_to_stderr_is_json_with_json_logs(
        newsroom: Path, run_cli: Run, tmp_path: Path, nobody: str, tg: FakeTelegram,
        fmt: str) -> None:
    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return run_cli("--log-format", fmt, "--config", newsroom, *args, cwd=tmp_path,
                       env={**ENV, "RINEWS_TG_TOKEN": tg.token})

    unreachable = re.escape(f"could not connect to {nobody}: All connection attempts failed; "
                            "the next poll tries again")

    checked = run("check", "--online")
    assert checked.returncode == 1
    assert "source desk: 0 articles readable" in checked.stdout.splitlines()
    assert matches(own_lines(checked, fmt), fmt, [
        ("error", "error", f"source wire: {unreachable}"),
        ("error", "-", "1 problem found online")]), checked.stderr

    fetched = run("fetch")
    assert fetched.returncode == 1
    assert fetched.stdout == "source desk: 0 new, 0 known\n"
    assert matches(own_lines(fetched, fmt), fmt, [
        ("error", "error", f"source wire: {unreachable}"),
        ("warning", "warning", re.escape(f"source desk: {tmp_path / 'desk' / 'kosong.md'}: the "
                                         "file is empty; write the article in it or delete "
                                         "it"))]), fetched.stderr

    pushed = run("push", "1", "--channel", "breaking")
    assert pushed.returncode == 1 and pushed.stdout == ""
    assert matches(own_lines(pushed, fmt), fmt, [
        ("error", "error", re.escape(f"breaking: not published yet: {OUTAGE}; it is tried again "
                                     "at ") + WHEN + re.escape(" by `distributor run` while it "
                                                               "runs"))]), pushed.stderr

    ran = run("run", "--once")
    assert ran.returncode == 1
    assert ran.stderr.count(f"could not connect to {nobody}") == 1, ran.stderr  # said once
    assert "sent 0, retry later 0, failed 0, unknown 0" in ran.stdout.splitlines()
    assert matches(own_lines(ran, fmt), fmt, [
        ("error", "error", f"source wire: {unreachable}"),  # once, with its reason
        ("error", "error", r"breaking: 1 waiting \(next try " + WHEN + re.escape(
            f", after: {OUTAGE}); `distributor run` keeps trying while it runs"))]), ran.stderr

    unknown = run("push", "999")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert matches(own_lines(unknown, fmt), fmt, [
        ("error", "error", re.escape("no stored article 999; `distributor articles list` "
                                     "shows the ids"))]), unknown.stderr

    previewed = run("preview", "1", "--channel", "breaking", "--html", "p.html")
    assert previewed.returncode == 0 and previewed.stdout.startswith("--- message 1/1")
    assert matches(own_lines(previewed, fmt), fmt, [("info", "-", "wrote p.html")]), \
        previewed.stderr

    usage = run("deliveries", "resolve", "1")
    assert usage.returncode == 2 and usage.stdout == ""
    if fmt == "text":  # click's own lines, as before
        assert usage.stderr.splitlines() == [
            "Usage: distributor deliveries resolve [OPTIONS] DELIVERY_ID",
            "Try 'distributor deliveries resolve --help' for help.", "",
            "Error: say --sent or --failed (one of them)"]
    else:
        assert matches(own_lines(usage, fmt), fmt, [
            ("error", "error", re.escape("say --sent or --failed (one of them) (`distributor "
                                         "deliveries resolve --help` shows the usage)"))]), \
            usage.stderr


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize(("args", "said"), [
    (["nosuch"], "No such command 'nosuch'."),
    (["--bogus", "check"], "No such option '--bogus'. Did you mean '--verbose'?"),
])
def test_a_usage_error_of_the_main_command_is_json_with_json_logs(
        run_cli: Run, tmp_path: Path, fmt: str, args: list[str], said: str) -> None:
    # click finds these before the main command runs (and reads --log-format)
    for where in ("before", "after"):
        line = ["--log-format", fmt, *args] if where == "before" else [*args, "--log-format",
                                                                         fmt]
        if where == "after" and args[0].startswith("--"):
            continue  # an unknown option before the command: the command is never read
        result = run_cli(*line, cwd=tmp_path)

        assert result.returncode == 2 and result.stdout == ""
        if fmt == "text":  # click's own lines, as before
            assert result.stderr.splitlines() == [
                "Usage: distributor [OPTIONS] COMMAND [ARGS]...",
                "Try 'distributor --help' for help.", "", f"Error: {said}"]
        else:
            assert matches(own_lines(result, fmt), fmt, [
                ("error", "error", re.escape(f"{said} (`distributor --help` shows the usage)"))
            ]), result.stderr


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_configurations_errors_and_an_imports_bad_rows_are_json_with_json_logs(
        write_config: Callable[..., Path], run_cli: Run, tmp_path: Path, fmt: str) -> None:
    with SmtpServer() as smtp:  # not reached: --confirmed sends no mail
        config = secret_from_env(write_config("channels:\n" + email_channel_yaml(smtp)))
    (tmp_path / "list.csv").write_text("email\nbukan-alamat\npembaca@example.org\n")
    imported = run_cli("--log-format", fmt, "--config", config, "subscribers", "import",
                       tmp_path / "list.csv", "--channel", "daily", "--confirmed", env=ENV)
    assert imported.returncode == 1
    assert imported.stdout == "daily: 1 added (confirmed), 0 already there, 1 bad rows\n"
    assert matches(own_lines(imported, fmt), fmt, [
        ("error", "error", re.escape(f"{tmp_path / 'list.csv'}:2: 'bukan-alamat' is not a "
                                     "valid email address: An email address must have an "
                                     "@-sign."))]), imported.stderr

    config.write_text(config.read_text().replace("    publish: digest", "    publsh: digest"))
    broken = run_cli("--log-format", fmt, "--config", config, "fetch", env=ENV)
    assert broken.returncode == 2 and broken.stdout == ""
    line = next(i for i, text in enumerate(config.read_text().splitlines(), 1)
                if "publsh:" in text)
    assert matches(own_lines(broken, fmt), fmt, [
        ("error", "error", re.escape(f"{config}:{line}: channels[0].publsh: unknown key "
                                     "'publsh'. Did you mean 'publish'?") + ".*"),
        ("error", "-", re.escape(f"1 problem in {config}; fix it and run `distributor check` "
                                 "again"))]), broken.stderr


class _EveryUpdate(digests_module.LineProgress):
    """The progress line at every update (not every 5 s)."""

    def __init__(self, label: str, **kwargs: object) -> None:
        super().__init__(label, **{**kwargs, "every": 0.0})  # type: ignore[arg-type]


def test_digest_sends_progress_is_json_with_json_logs(
        write_config: Callable[..., Path], run_cli: Run, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    monkeypatch.setattr(digests_module, "LineProgress", _EveryUpdate)
    with SmtpServer() as smtp:
        config = secret_from_env(write_config("channels:\n" + email_channel_yaml(smtp)))
        rt = open_runtime(config)
        add_articles(rt, 2)
        with rt.store.session() as session:
            for i in range(3):
                add_subscriber(session, "daily", f"pembaca{i}@example.org", confirmed=True)
        rt.store.dispose()
        sent = run_cli("--log-format", "json", "--config", config, "digest", "send",
                       "--channel", "daily", env=ENV)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("digest daily: sent (2 articles): 3 mails accepted in ")
    said = own_lines(sent, "json")  # every line an object (the SMTP server's log too)
    assert said and all(level == "info" and re.fullmatch(
        r"daily: \d/3 served, \d+ messages/s, (\d+:\d\d|--:--) left", message)
        for level, message in said), said
