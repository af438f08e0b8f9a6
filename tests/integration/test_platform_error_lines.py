"""A platform's bad answer, as a user sees it on the command line: one line that says what
answered, where, and what to do; no Python traceback, no page of HTML, never a token.

A web server at a wrong ``api_base_url`` (or a proxy's error page in front of Telegram) is a
real HTTP server here, answering a page that echoes the request's path, as many servers'
"Not Found" pages do: the bot token is in the page. An invalid token is the Telegram double's
401; bad X credentials the X double's. The CLI runs in process (``run_cli``), the libraries
unmocked.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fakes.telegram_api import FakeTelegram
from fakes.x_api import FakeX
from support.channel_runs import article_file, deliveries, make_due, open_runtime
from support.timeouts import ANSWERED

from distributor.store.models import ChannelState

Run = Callable[..., subprocess.CompletedProcess[str]]

TOKEN = "123456789:AAHsecretTOKENvalue_zz9abcdefghijk"
WRONG_TOKEN = "7012345678:AAwrongwrongwrongwrongwrongwrong01"


class WebServer:
    """A plain web server on 127.0.0.1: every request gets ``status`` and an HTML page that
    shows the path asked for. With ``upstream``, it is a proxy: after ``pages`` pages it
    passes the requests on to ``upstream`` and its answers back."""

    def __init__(self, status: int, *, upstream: str | None = None, pages: int = 10**6):
        self.status, self.upstream, self.pages = status, upstream, pages
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                server.paths.append(self.path)
                if server.upstream is not None and len(server.paths) > server.pages:
                    status, kind, payload = server.forward(self.command, self.path, body,
                                                           self.headers.get("content-type"))
                else:
                    status, kind = server.status, "text/html; charset=utf-8"
                    payload = server.page(self.path).encode()
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def page(self, path: str) -> str:
        return ("<!DOCTYPE html>\n<html>\n<head><title>Error</title></head>\n<body>\n"
                f"<h1>Error {self.status}</h1>\n<p>The requested URL {html.escape(path)} "
                "could not be served by this server.</p>\n</body>\n</html>\n")

    def forward(self, method: str, path: str, body: bytes,
                kind: str | None) -> tuple[int, str, bytes]:
        assert self.upstream is not None
        request = urllib.request.Request(self.upstream + path, data=body or None,
                                         method=method,
                                         headers={"content-type": kind} if kind else {})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, answer.headers["content-type"], answer.read()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.headers["content-type"], refused.read()

    def __enter__(self) -> WebServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True,
                         kwargs={"poll_interval": 0.05}).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def web_page() -> Iterator[Callable[..., WebServer]]:
    servers: list[WebServer] = []

    def start(status: int, **kwargs: Any) -> WebServer:
        servers.append(WebServer(status, **kwargs).__enter__())
        return servers[-1]

    yield start
    for server in servers:
        server.__exit__()


def telegram_config(write_config: Callable[..., Path], url: str, *,
                    sources: str = "") -> Path:
    return write_config(sources + f"""\
channels:
  - name: telegram
    type: telegram
    chat_id: "@rinewsportal"
    token: ${{RINEWS_TG_TOKEN}}
    api_base_url: {url}
    timeout: {ANSWERED}
    reconcile_wait: 0
""")


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def assert_clean(result: subprocess.CompletedProcess[str], token: str = TOKEN) -> None:
    """No traceback, no page, no token (nor its URL-quoted form) anywhere the user looks."""
    out = shown(result)
    assert "Traceback" not in out
    assert "<!DOCTYPE" not in out and "<html" not in out and "<h1>" not in out
    assert token not in out and quote(token, safe="") not in out
    assert token.split(":")[1] not in out


def problem_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines of stderr that report a problem (an error or a warning, logged or not), but
    the configuration's own notes ("channels.yaml:8: web.secret_key: ...")."""
    return [line for line in result.stderr.splitlines()
            if ("error:" in line or "warning:" in line)
            and not re.search(r"channels\.yaml:\d+: ", line)]


# --------------------------------------------------------------------------- not the Bot API

def test_check_online_against_a_plain_web_server_says_so_in_one_line(
        write_config: Callable[..., Path], run_cli: Run,
        web_page: Callable[..., WebServer]) -> None:
    server = web_page(501)  # python -m http.server: "501 Unsupported method ('POST')"
    config = telegram_config(write_config, server.url)

    result = run_cli("--config", config, "check", "--online", env={"RINEWS_TG_TOKEN": TOKEN})

    assert result.returncode == 1
    assert server.paths == [f"/bot{TOKEN}/getMe"]  # the page quoted the token back
    assert problem_lines(result) == [
        f"error: channel telegram: {server.url} answered HTTP 501 Not Implemented with a web "
        "page, not the Telegram Bot API; check api_base_url"]
    assert_clean(result)


def desk_source(tmp_path: Path) -> str:
    """A folder source holding one article file, written a minute ago."""
    folder = tmp_path / "articles"
    folder.mkdir()
    written = time.time() - 60
    os.utime(article_file(folder), (written, written))
    return f"""\
sources:
  - name: desk
    type: directory
    path: {folder}
    url_template: https://rinews.example/berita/{{slug}}
"""


def test_run_with_a_not_found_page_pauses_the_channel_and_says_it_once(
        write_config: Callable[..., Path], run_cli: Run, tmp_path: Path,
        web_page: Callable[..., WebServer], monkeypatch: pytest.MonkeyPatch) -> None:
    """A 404 page is not Telegram saying the token is wrong (its 404 is JSON): the address
    is. The channel pauses (every post would fail alike); run's summary says so once, with
    the reason and what to do (not the log of the send as well, nor "channel telegram is
    paused")."""
    server = web_page(404)
    config = telegram_config(write_config, server.url, sources=desk_source(tmp_path))
    monkeypatch.setenv("RINEWS_TG_TOKEN", TOKEN)

    result = run_cli("--config", config, "run", "--once", env={"RINEWS_TG_TOKEN": TOKEN})

    assert_clean(result)
    said = (f"{server.url} answered HTTP 404 Not Found with a web page, not the Telegram Bot "
            "API; check api_base_url")
    assert problem_lines(result) == [
        f"error: telegram: 1 waiting: the channel is paused ({said}); fix it, then "
        "`distributor channels resume telegram`"]
    assert result.returncode == 1
    assert "channel paused" not in result.stderr
    assert "channel telegram is paused" not in result.stderr
    assert "token is invalid" not in result.stderr
    rt = open_runtime(config)
    try:
        with rt.store.session() as session:
            assert session.get_one(ChannelState, "telegram").paused_reason == said
        assert [d.state for d in deliveries(rt, "telegram")] == ["retry"]
    finally:
        rt.store.dispose()


def test_a_proxys_bad_gateway_page_is_an_outage_retried_then_published(
        write_config: Callable[..., Path], run_cli: Run, tmp_path: Path, tg: FakeTelegram,
        web_page: Callable[..., WebServer], monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = web_page(502, upstream=tg.url)  # error pages until told to pass requests on
    config = write_config(desk_source(tmp_path) + f"""\
channels:
  - name: telegram
    type: telegram
    chat_id: "{tg.channel.handle}"
    token: ${{RINEWS_TG_TOKEN}}
    api_base_url: {proxy.url}
    timeout: {ANSWERED}
    reconcile_wait: 0
""")
    env = {"RINEWS_TG_TOKEN": tg.token}
    monkeypatch.setenv("RINEWS_TG_TOKEN", tg.token)

    first = run_cli("--config", config, "run", "--once", env=env)

    assert_clean(first, tg.token)
    said = f"Telegram is unavailable: {proxy.url} answered HTTP 502 Bad Gateway with a web page"
    lines = problem_lines(first)
    assert len([line for line in lines if re.search(
        r"warning: delivery 1 \(telegram, article 1\): " + re.escape(said)
        + r"; retrying in \d+s$", line)]) == 1, lines
    assert all(said in line for line in lines) and len(lines) <= 2  # + run's summary
    rt = open_runtime(config)
    try:
        assert [d.state for d in deliveries(rt, "telegram")] == ["retry"]
        with rt.store.session() as session:
            state = session.get(ChannelState, "telegram")
            assert state is None or state.paused_reason is None  # an outage pauses nothing
        make_due(rt)
    finally:
        rt.store.dispose()
    proxy.pages = 0  # the gateway is back

    again = run_cli("--config", config, "run", "--once", env=env)

    assert again.returncode == 0, again.stderr
    assert problem_lines(again) == []
    assert [m.text.split("\n")[0] for m in tg.messages] == ["<b>Banjir Semarang surut</b>"]


def test_check_online_through_a_proxys_unavailable_page_says_telegram_is_unavailable(
        write_config: Callable[..., Path], run_cli: Run,
        web_page: Callable[..., WebServer]) -> None:
    proxy = web_page(503)
    config = telegram_config(write_config, proxy.url)

    result = run_cli("--config", config, "check", "--online", env={"RINEWS_TG_TOKEN": TOKEN})

    assert result.returncode == 1
    assert problem_lines(result) == [
        f"error: channel telegram: Telegram is unavailable: {proxy.url} answered HTTP 503 "
        "Service Unavailable with a web page"]
    assert_clean(result)


def test_verbose_shows_the_librarys_own_record_with_the_token_redacted(
        write_config: Callable[..., Path], run_cli: Run,
        web_page: Callable[..., WebServer]) -> None:
    server = web_page(404)
    config = telegram_config(write_config, server.url)

    result = run_cli("-v", "--config", config, "check", "--online",
                     env={"RINEWS_TG_TOKEN": TOKEN})

    assert result.returncode == 1
    assert "Can not load invalid JSON data" in result.stderr  # python-telegram-bot's, with -v
    assert "JSONDecodeError" in result.stderr
    assert TOKEN not in shown(result) and quote(TOKEN, safe="") not in shown(result)
    assert TOKEN.split(":")[1] not in shown(result)
    assert f"error: channel telegram: {server.url} answered HTTP 404 Not Found with a web " \
        "page" in result.stderr


# --------------------------------------------------------------------------- credentials

def test_an_invalid_token_on_push_names_the_channels_token_key_in_one_line(
        write_config: Callable[..., Path], run_cli: Run, tmp_path: Path,
        tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    """The configuration names its own variable (${RINEWS_TG_TOKEN}): the line points at the
    channel's `token:` in its file, not at the example's TELEGRAM_BOT_TOKEN; and it is said
    once, by push's verdict (not by the log of the send as well)."""
    config = telegram_config(write_config, tg.url)
    article = article_file(tmp_path)
    monkeypatch.setenv("RINEWS_TG_TOKEN", WRONG_TOKEN)

    pushed = run_cli("--config", config, "push", article, "--channel", "telegram",
                     env={"RINEWS_TG_TOKEN": WRONG_TOKEN})

    assert pushed.returncode == 1
    assert_clean(pushed, WRONG_TOKEN)
    assert "TELEGRAM_BOT_TOKEN" not in shown(pushed)
    said = ("Telegram refused the bot token of channel telegram with 401 Unauthorized: check "
            f"its `token:` in {config}, or the ${{...}} variable it names, against the token "
            "@BotFather gave the bot")
    assert problem_lines(pushed) == [
        f"error: telegram: not published: the channel is paused ({said}); fix it, then "
        "`distributor channels resume telegram` sends it (delivery 1)"]
    rt = open_runtime(config)
    try:
        with rt.store.session() as session:
            assert session.get_one(ChannelState, "telegram").paused_reason == said
    finally:
        rt.store.dispose()


def test_check_online_with_bad_x_credentials_names_the_channels_keys(
        write_config: Callable[..., Path], run_cli: Run) -> None:
    with FakeX() as fx:
        config = write_config(f"""\
channels:
  - name: x-desk
    type: x
    consumer_key: ${{RINEWS_X_KEY}}
    consumer_secret: ${{RINEWS_X_SECRET}}
    access_token: ${{RINEWS_X_TOKEN}}
    access_token_secret: ${{RINEWS_X_TOKEN_SECRET}}
    api_base_url: {fx.url}
    timeout: 5
""")
        wrong = "not-the-access-token-secret-4471"
        result = run_cli("--config", config, "check", "--online", env={
            "RINEWS_X_KEY": fx.consumer_key, "RINEWS_X_SECRET": fx.consumer_secret,
            "RINEWS_X_TOKEN": fx.access_token, "RINEWS_X_TOKEN_SECRET": wrong})

    assert result.returncode == 1
    assert "Traceback" not in shown(result)
    assert "X_API_KEY" not in shown(result) and "X_ACCESS_TOKEN_SECRET" not in shown(result)
    [line] = problem_lines(result)
    assert line.startswith(
        "error: channel x-desk: X rejected the credentials; check the channel's consumer_key, "
        "consumer_secret, access_token and access_token_secret in the configuration (and the "
        "${...} variables they name). X said: ")
    for secret in [*fx.credentials.values(), wrong]:
        assert secret not in shown(result)


def test_check_online_for_x_through_a_proxys_error_page_says_x_is_unavailable(
        write_config: Callable[..., Path], run_cli: Run,
        web_page: Callable[..., WebServer]) -> None:
    proxy = web_page(502)
    config = write_config(f"""\
channels:
  - name: x
    type: x
    consumer_key: ${{RINEWS_X_KEY}}
    consumer_secret: ${{RINEWS_X_SECRET}}
    access_token: ${{RINEWS_X_TOKEN}}
    access_token_secret: ${{RINEWS_X_TOKEN_SECRET}}
    api_base_url: {proxy.url}
    timeout: 5
""")
    secrets = {"RINEWS_X_KEY": "consumer-key-0001", "RINEWS_X_SECRET": "consumer-secret-0002",
               "RINEWS_X_TOKEN": "access-token-0003", "RINEWS_X_TOKEN_SECRET": "token-secret-04"}

    result = run_cli("--config", config, "check", "--online", env=secrets)

    assert result.returncode == 1
    assert_clean(result)
    assert problem_lines(result) == [
        "error: channel x: X is unavailable: 502 Bad Gateway with a web page, not the X API's "
        "answer"]
    for secret in secrets.values():
        assert secret not in shown(result)
