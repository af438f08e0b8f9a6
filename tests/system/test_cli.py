"""The command line as a user runs it (in this process, through click's runner; a real process
where the process is the point): real files, stdout and stderr, exit codes, one-line errors."""

from __future__ import annotations

import asyncio
import email
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from email import policy
from pathlib import Path

import pytest
from conftest import ROOT, SEED
from support.cli import run_process
from support.webhook_server import WebhookServer

Run = Callable[..., subprocess.CompletedProcess[str]]
NEWSROOM = """\
        sources:
          - name: newsroom
            type: directory
            path: articles/
            url_template: https://rinews.example/berita/{slug}
"""


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A copy of the bundled examples, so a test never writes into the repository."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("*.db*", "outbox"))
    return tmp_path / "examples" / "demo.yaml"


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer() as srv:
        yield srv


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert any(line.startswith("error: ") and text in line
               for line in result.stderr.splitlines()), result.stderr


def test_demo_writes_the_seed_as_email_telegram_post_and_x_thread(demo: Path, run_cli: Run) -> None:
    result = run_cli("--config", demo, "run", "--once", "--dry-run", cwd=demo.parent.parent)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    outbox = demo.parent.parent / "outbox"
    seed_id = next(line.split()[0] for line in result.stdout.splitlines()
                   if "Moskow dan Beijing" in line)
    stem = next((outbox / "telegram").glob(f"{seed_id}-*.json")).stem

    telegram = json.loads((outbox / "telegram" / f"{stem}.json").read_text())
    assert telegram[0]["method"] in ("sendMessage", "sendPhoto")
    assert telegram[0]["parse_mode"] == "HTML"
    assert "Moskow dan Beijing" in telegram[0].get("text", telegram[0].get("caption", ""))
    assert "Baca juga" not in json.dumps(telegram)
    readable = (outbox / "telegram" / f"{stem}.txt").read_text()
    assert "<" not in readable and "Baca selengkapnya (https://rinews.example/berita/" in readable

    thread = json.loads((outbox / "x" / f"{stem}.json").read_text())
    assert len(thread) >= 2 and thread[0]["text"].startswith("Moskow dan Beijing")
    assert "https://rinews.example/berita/" in thread[-1]["text"]
    assert (outbox / "x" / f"{stem}.txt").read_text().startswith("Moskow dan Beijing")

    mail = email.message_from_bytes((outbox / "breaking" / f"{stem}.eml").read_bytes(),
                                    policy=policy.default)
    assert "Moskow dan Beijing" in str(mail["Subject"])
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Moskow dan Beijing" in html and "Pewarta" not in html
    digest = next((outbox / "daily").glob("digest-*.eml"))
    assert "Moskow dan Beijing" in email.message_from_bytes(
        digest.read_bytes(), policy=policy.default).get_body(("html",)).get_content()  # type: ignore[union-attr]

    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("ARTICLE"))
    assert lines[header].split() == ["ARTICLE", "TITLE", "CHANNEL", "MSGS", "WRITTEN", "TO"]
    assert len([line for line in lines[header + 1:] if line.split()[0].isdigit()]) == 6 * 3
    assert "dry run: nothing was sent" in result.stdout


def test_preview_json_follows_the_contract(demo: Path, run_cli: Run) -> None:
    result = run_cli("--config", demo, "preview", SEED, "--channel", "x", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"channel", "type", "article", "messages"}
    assert data["channel"] == "x" and data["type"] == "x"
    assert set(data["article"]) == {"id", "title", "url", "lede"}
    assert data["article"]["lede"].startswith("Moskow dan Beijing")
    assert all(set(m) == {"text"} for m in data["messages"])

    telegram = json.loads(run_cli("--config", demo, "preview", SEED, "--channel", "telegram",
                                  "--json").stdout)
    assert telegram["messages"][0]["method"] == "sendMessage"
    mail = json.loads(run_cli("--config", demo, "preview", SEED, "--channel", "breaking",
                              "--json").stdout)
    assert {"subject", "html", "text", "headers"} <= set(mail["messages"][0])


def test_preview_html_writes_a_page_to_open_in_a_browser(
        demo: Path, run_cli: Run, tmp_path: Path) -> None:
    mail, post = tmp_path / "mail.html", tmp_path / "post.html"
    result = run_cli("--config", demo, "preview", SEED, "--channel", "breaking", "--html", mail)
    assert result.returncode == 0, result.stderr
    page = mail.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Moskow dan Beijing" in page
    assert "style=" in page  # the mail as sent: CSS inlined

    result = run_cli("--config", demo, "preview", SEED, "--channel", "telegram", "--html", post)
    assert result.returncode == 0, result.stderr
    page = post.read_text(encoding="utf-8")
    assert "<b>Moskow dan Beijing" in page  # as Telegram shows it: only the tags it allows
    assert "<br>" in page and "&lt;b&gt;" not in page

    result = run_cli("--config", demo, "digest", "preview", "--channel", "daily", "--html",
                     tmp_path / "missing" / "digest.html")
    assert result.returncode == 1 and "cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_digest_preview_json_lists_its_articles(demo: Path, run_cli: Run) -> None:
    assert run_cli("--config", demo, "fetch").returncode == 0
    result = run_cli("--config", demo, "digest", "preview", "--channel", "daily", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "article" not in data and len(data["articles"]) == 6
    assert data["messages"][0]["subject"]


def test_push_posts_once_and_again_only_with_force(
    write_config: Callable[..., Path], server: WebhookServer, run_cli: Run,
) -> None:
    config = write_config(NEWSROOM + f"""\
        channels:
          - name: hook
            type: webhook
            publish: manual
            url: {server.url}
        """)
    first = run_cli("--config", config, "push", SEED, "--channel", "hook")
    assert first.returncode == 0, first.stderr
    assert "hook: published (remote id m1)" in first.stdout
    second = run_cli("--config", config, "push", SEED)
    assert second.returncode == 0 and "hook: already published" in second.stdout
    assert len(server.received) == 1
    forced = run_cli("--config", config, "push", SEED, "--force")
    assert forced.returncode == 0 and len(server.received) == 2

    listing = json.loads(run_cli("--config", config, "deliveries", "list", "--json").stdout)
    assert [(d["channel"], d["state"], d["remote_id"]) for d in listing] == [
        ("hook", "sent", "m2")]
    articles = json.loads(run_cli("--config", config, "articles", "list", "--json").stdout)
    assert len(articles) == 1 and articles[0]["deliveries"] == {"hook": "sent"}


def test_a_failed_push_exits_1_with_the_platforms_reason(
    write_config: Callable[..., Path], server: WebhookServer, run_cli: Run,
) -> None:
    config = write_config(NEWSROOM + f"""\
        channels:
          - name: hook
            type: webhook
            url: {server.url}
        """)
    server.answer(400)
    result = run_cli("--config", config, "push", SEED)
    assert_one_line_error(result, 'hook: failed: refused: {"error": 400}')
    listing = json.loads(run_cli("--config", config, "deliveries", "list", "--status", "failed",
                                 "--json").stdout)
    retry = run_cli("--config", config, "deliveries", "retry", str(listing[0]["id"]))
    assert retry.returncode == 0, retry.stderr
    assert len(server.received) == 1


def test_check_finds_a_bare_url_a_language_name_a_port_and_a_sender_without_address_in_one_pass(
    write_config: Callable[..., Path], run_cli: Run,
) -> None:
    """Issue 19.9: `check` passed these four, each failing later (links, dates, SMTP, mail)."""
    config = write_config("""\
        channels:
          - name: daily
            type: email
            publish: digest
            schedule: "0 6 * * *"
            from: "RI News Portal"
            smtp:
              host: localhost
              port: 99999
        """)
    config.write_text(config.read_text().replace("url: https://rinews.example\n",
                                                  "url: rinews.example\n", 1)
                      .replace("language: id\n", "language: indonesian\n", 1))
    result = run_cli("--config", config, "check")
    assert result.returncode == 2, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 4, result.stderr
    assert "site.url: 'rinews.example' is not a full web address" in lines[0]
    assert "site.language: 'indonesian' is not a language code" in lines[1]
    assert "from: 'RI News Portal' has no email address" in lines[2]
    assert "smtp.port:" in lines[3]
    assert "4 problems" in result.stderr and "Traceback" not in result.stderr


def test_check_reports_three_mistakes_with_their_lines(
    write_config: Callable[..., Path], run_cli: Run,
) -> None:
    config = write_config("""\
        sources:
          - name: portal
            type: feed
            url: https://rinews.example/rss.xml
            evry: 5m
        channels:
          - name: telegram
            type: telegram
            chat_id: "@rinewsportal"
            token: ${TELEGRAM_BOT_TOKEN}
          - name: daily
            type: email
            publish: digest
            schedule: "0 25 * * *"
            from: redaksi@rinews.example
            smtp:
              host: localhost
        """)
    result = run_cli("--config", config, "check")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, result.stderr
    lines = config.read_text().splitlines()
    for error, needle in zip(errors, ["evry", "TELEGRAM_BOT_TOKEN", "0 25"], strict=True):
        line = next(i for i, text in enumerate(lines, 1) if needle in text)
        assert error.startswith(f"error: {config}:{line}: "), error
    assert "Traceback" not in result.stderr


def test_broken_feeds_get_one_line_each_and_the_good_one_is_read(
    write_config: Callable[..., Path], tmp_path: Path, run_cli: Run,
) -> None:
    (tmp_path / "bad.xml").write_text("<html><body>Oops, not a feed</body></html>")
    shutil.copy(ROOT / "examples" / "feed.xml", tmp_path / "good.xml")
    config = write_config("""\
        sources:
          - name: unreachable
            type: feed
            url: http://127.0.0.1:9/rss.xml
            timeout: 2s
          - name: broken
            type: feed
            url: bad.xml
          - name: good
            type: feed
            url: good.xml
        channels: []
        """)
    result = run_cli("--config", config, "fetch")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert [e.split(":")[1].strip() for e in errors] == ["source unreachable", "source broken"]
    assert result.stderr.count("source broken") == 1  # said once, not by the log as well
    assert "source good: 3 new, 0 known" in result.stdout
    assert len(json.loads(run_cli("--config", config, "articles", "list", "--json").stdout)) == 3


def test_user_mistakes_get_one_line_and_no_traceback(demo: Path, run_cli: Run) -> None:
    assert_one_line_error(run_cli("--config", demo, "preview", SEED, "--channel", "nope"),
                          "no channel named 'nope'")
    assert_one_line_error(run_cli("--config", demo, "preview", "999", "--channel", "x"),
                          "no stored article 999")
    assert_one_line_error(run_cli("--config", demo, "deliveries", "resolve", "42", "--sent"),
                          "no delivery 42")
    both = run_cli("--config", demo, "deliveries", "resolve", "42", "--sent", "--failed")
    assert both.returncode == 2 and "Traceback" not in both.stderr  # not the last flag's
    assert "Error: say --sent or --failed (one of them)" in both.stderr
    for path, said in ((demo.parent / "missing.yaml", "no such configuration file; pass "),
                       (demo.parent, "a folder, not a file; pass the file in it: ")):
        result = run_cli("--config", path, "check")  # one line (was: + "1 problem in ...")
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith(f"error: {path}: {said}"), line


def test_a_list_limit_of_0_lists_all_and_a_negative_one_is_refused(
        demo: Path, run_cli: Run) -> None:
    assert run_cli("--config", demo, "fetch").returncode == 0
    stored = json.loads(run_cli("--config", demo, "articles", "list", "--json", "--limit", "0"
                                ).stdout)  # (was: "no articles yet" with articles stored)
    assert len(stored) >= 2
    assert len(json.loads(run_cli("--config", demo, "articles", "list", "--json", "--limit",
                                  "1").stdout)) == 1
    for command in (["articles", "list"], ["deliveries", "list"], ["subscribers", "list"]):
        negative = run_cli("--config", demo, *command, "--limit", "-5")  # (was: everything)
        assert negative.returncode == 2 and "Invalid value for '--limit'" in negative.stderr
    # a typo in --channel (was: "no deliveries", exit 0)
    assert_one_line_error(run_cli("--config", demo, "deliveries", "list", "--channel", "nope"),
                          "no channel named 'nope'")


def test_a_third_party_adapter_is_found_through_its_entry_point(
    write_config: Callable[..., Path], run_cli: Run, server: WebhookServer,
) -> None:
    config = write_config(NEWSROOM + f"""\
        channels:
          - name: hook
            type: webhook
            url: {server.url}
        """)
    assert run_cli("--config", config, "check").returncode == 0
    without_plugin = run_process("--config", config, "check")  # a process: what it can import
    assert_one_line_error(without_plugin, "no channel type 'webhook'")
    assert run_cli("--config", config, "push", SEED).returncode == 0
    assert server.texts()[0].startswith("Moskow dan Beijing")


def test_json_logs_are_one_object_per_line(demo: Path, run_cli: Run) -> None:
    result = run_cli("--config", demo, "--log-format", "json", "fetch")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert any(r["message"].startswith("new article") for r in records)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)


@pytest.mark.parametrize("command", [
    [], ["run"], ["check"], ["preview"], ["push"], ["digest", "send"], ["deliveries", "retry"],
    ["articles", "list"], ["fetch"],
])
def test_every_command_has_help(command: list[str], run_cli: Run) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0 and result.stdout.startswith("Usage: distributor")


def test_the_command_list_says_each_commands_first_sentence_whole(run_cli: Run) -> None:
    listed = run_cli("--help").stdout  # click cut each to one line: "(publishes..." (audit)
    commands = " ".join(listed.split("Commands:", 1)[1].split())
    assert "fetch Poll every source once and store new articles (publishes nothing)." \
        in commands
    assert "..." not in commands


async def test_serve_dry_run_shows_the_dashboard_without_credentials_and_sends_nothing(
        demo: Path, run_cli: Run, tmp_path: Path) -> None:
    import re

    import httpx
    from support.web import ServeProcess, csrf_of, free_port, login, serve_env

    assert run_cli("--config", demo, "fetch").returncode == 0
    added = run_cli("--config", demo, "editors", "add", "demo", "--password-stdin",
                    input="a-long-demo-password\n")
    assert added.returncode == 0, added.stderr
    server = ServeProcess(demo, free_port(), serve_env(), tmp_path / "serve.log",
                          args=("--dry-run",)).start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await login(client, "demo", "a-long-demo-password")).status_code == 303
            listing = await client.get("/dashboard/")
            seed = re.search(r'href="/dashboard/articles/(\d+)"[^>]*>Moskow dan Beijing',
                             listing.text)
            assert seed, listing.text[:2000]
            page = f"/dashboard/articles/{seed.group(1)}"
            token = csrf_of((await client.get(page)).text)
            pushed = await client.post(f"{page}/act", data={"csrf": token, "action": "push",
                                                            "channel": "telegram"})
            assert pushed.status_code == 303
            outbox = demo.parent.parent / "outbox" / "telegram"
            for _ in range(100):
                if list(outbox.glob(f"{seed.group(1)}-*.json")):
                    break
                await asyncio.sleep(0.1)
            [written] = list(outbox.glob(f"{seed.group(1)}-*.json"))
            assert json.loads(written.read_text())[0]["method"] == "sendMessage"
    finally:
        server.stop()
    assert "TELEGRAM_BOT_TOKEN not set; rendering only (dry run)" in server.log()
    assert "Traceback" not in server.log()


CHANNELS_WITHOUT_SECRETS = """\
    channels:
      - name: files
        type: outbox
        path: outbox/
        publish: manual
      - name: x
        type: x
        publish: manual
        consumer_key: ${X_API_KEY}
        consumer_secret: ${X_API_SECRET}
        access_token: ${X_ACCESS_TOKEN}
        access_token_secret: ${X_ACCESS_TOKEN_SECRET}
      - name: telegram
        type: telegram
        enabled: false
        chat_id: "@rinewsportal"
        token: ${TELEGRAM_BOT_TOKEN}
"""


def test_a_channel_without_its_secrets_does_not_stop_the_others(
        write_config: Callable[..., Path], run_cli: Run, tmp_path: Path) -> None:
    config = write_config(CHANNELS_WITHOUT_SECRETS)
    article = ROOT / "examples" / "articles" / "2026-11-25-harga-cabai.json"
    pushed = run_cli("--config", config, "push", article, "--channel", "files")
    assert pushed.returncode == 0, pushed.stderr
    assert list((tmp_path / "outbox" / "files").glob("*.json"))
    assert "X_API_KEY" not in pushed.stderr

    refused = run_cli("--config", config, "push", article, "--channel", "x")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert [line.split(": ")[2] for line in lines[:-1]] == [
        "channels[1].consumer_key", "channels[1].consumer_secret", "channels[1].access_token",
        "channels[1].access_token_secret"]
    assert lines[-1] == "set the variables above to send to x"
    assert "TELEGRAM_BOT_TOKEN" not in refused.stderr  # a disabled channel needs nothing


def test_a_disabled_channel_needs_no_credentials_but_an_enabled_one_does(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    config = write_config(CHANNELS_WITHOUT_SECRETS)
    checked = run_cli("--config", config, "check")
    assert checked.returncode == 2
    assert "X_API_KEY" in checked.stderr and "TELEGRAM_BOT_TOKEN" not in checked.stderr
    fixed = run_cli("--config", config, "check", env={
        "X_API_KEY": "a", "X_API_SECRET": "b", "X_ACCESS_TOKEN": "c",
        "X_ACCESS_TOKEN_SECRET": "d"})
    assert fixed.returncode == 0, fixed.stderr


def test_config_is_understood_after_the_command_too(demo: Path, run_cli: Run) -> None:
    after = run_cli("check", "--dry-run", "--config", demo)
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith(f"{demo}: OK")
    joined = run_cli("articles", "list", f"--config={demo}", "--json")
    assert joined.returncode == 0 and joined.stdout.strip() == "[]"


def test_check_finds_what_cannot_work_though_every_key_is_valid(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    config = write_config(NEWSROOM + """\
        channels:
          - name: daily
            type: email
            publish: digest
            schedule: "0 6 * * *"
            from: "RI News Portal <redaksi@rinews.example>"
            smtp:
              host: localhost
        """)
    config.write_text(config.read_text().replace("  secret_key: test-secret-key\n", ""))
    result = run_cli("--config", config, "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert re.search(rf"^warning: {re.escape(str(config))}:\d+: sources\[0\]\.path: source "
                     "newsroom: the folder", result.stderr, re.M), result.stderr
    web = next(i for i, line in enumerate(config.read_text().splitlines(), 1) if line == "web:")
    assert (f"error: {config}:{web}: web.secret_key: not set, but channel daily sends to "
            "subscribers"
            in result.stderr)
    assert "OK" not in result.stdout
