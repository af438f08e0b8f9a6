"""The fault matrix of docs/reliability.md, one table per dependency: Telegram, X, SMTP, feeds and
the store, each against a real server that misbehaves on purpose (tests/support/faults.py):
a timeout, a connection reset mid-answer, 429 with and without Retry-After, a 5xx, a malformed
answer and a TLS error. Each row says what distributor makes of it; the test checks that, and
what the platform holds afterwards (posted once or not at all, never twice)."""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fakes.telegram_api import FakeTelegram
from fakes.x_api import FakeX
from feedserver import FeedServer
from support.faults import FAULTS, FaultProxy, ScriptedSmtp

from distributor.channels.email.config import SmtpConfig
from distributor.channels.email.smtp import ConnectError, Connection
from distributor.channels.telegram.adapter import TelegramAdapter, TelegramConfig
from distributor.channels.x.adapter import XAdapter, XConfig
from distributor.config import FeedSourceConfig
from distributor.plugin import AmbiguousError, PermanentError, TransientError
from distributor.plugin.testing import send_context
from distributor.sources import SourceBusy, SourceError, SourceState
from distributor.sources.feed import fetch_feed
from distributor.store import open_store
from distributor.store.db import StoreError

ALL = (*FAULTS, "tls")


def outcome(exc: BaseException | None) -> str:
    """The kind of outcome as the core sees it: sent, transient (with its Retry-After),
    ambiguous (unknown), permanent."""
    if exc is None:
        return "sent"
    if isinstance(exc, TransientError):
        return f"transient {exc.retry_after:g}s" if exc.retry_after else "transient"
    if isinstance(exc, AmbiguousError):
        return "ambiguous"
    if isinstance(exc, PermanentError):
        return "permanent"
    raise exc


def waited(fault: str) -> float:
    """The client's timeout: short where the answer never comes (the test waits it out), and
    long enough for a loaded machine where the answers do come."""
    return 1.5 if fault == "timeout" else 3.0


# --------------------------------------------------------------------------- Telegram

TELEGRAM = {  # fault: (outcome, messages in the channel afterwards)
    "timeout": ("ambiguous", 1),    # unknown: looked for among the channel's posts, not resent
    "reset": ("ambiguous", 1),
    "429": ("transient 7s", 0),      # flood control: the channel waits what Telegram said
    "429-bare": ("transient", 0),    # the dispatcher's backoff
    "5xx": ("transient", 0),
    "malformed": ("ambiguous", 1),
    "tls": ("transient", 0),         # the handshake failed: nothing was sent
}


@pytest.mark.parametrize("fault", ALL)
async def test_telegram(fault: str) -> None:
    with FakeTelegram() as tg, FaultProxy(tg.url) as proxy:
        adapter = TelegramAdapter(TelegramConfig(
            name="telegram", chat_id=tg.channel.handle, token=tg.token, timeout=waited(fault),
            reconcile_wait=0,  # no observer bot: there is nothing to find among the posts
            api_base_url=proxy.tls_url if fault == "tls" else proxy.url))
        if fault != "tls":
            await adapter.check_online()
            proxy.fail("sendMessage", fault, body={
                "ok": False, "error_code": 429, "parameters": {"retry_after": 7},
                "description": "Too Many Requests: retry after 7"}, bare_body={
                "ok": False, "error_code": 429, "description": "Too Many Requests"})
        error: BaseException | None = None
        try:
            await adapter.send({"method": "sendMessage", "text": "Banjir di <b>Semarang</b>",
                                "parse_mode": "HTML"}, send_context())
        except Exception as exc:
            error = exc
        finally:
            await adapter.close()
        proxy.settled()
        assert (outcome(error), len(tg.messages_in(tg.channel.id))) == TELEGRAM[fault]


# --------------------------------------------------------------------------- X

X = {
    "timeout": ("ambiguous", 1),   # unknown: reconciled against the timeline, never resent
    "reset": ("ambiguous", 1),
    "429": ("transient 7s", 0),
    "429-bare": ("transient", 0),
    "5xx": ("transient", 0),
    "malformed": ("ambiguous", 1),
    "tls": ("transient", 0),
}


@pytest.mark.parametrize("fault", ALL)
async def test_x(fault: str) -> None:
    with FakeX() as fx, FaultProxy(fx.url) as proxy:
        adapter = XAdapter(XConfig(**{
            "name": "x", **fx.credentials, "timeout": waited(fault),
            "api_base_url": proxy.tls_url if fault == "tls" else proxy.url}))
        if fault != "tls":
            proxy.fail("/2/tweets", fault, body={"title": "Too Many Requests", "status": 429,
                                                 "detail": "Too Many Requests",
                                                 "type": "about:blank"})
        error: BaseException | None = None
        try:
            await adapter.send({"text": "Banjir di Semarang https://rinews.example/banjir"},
                               send_context())
        except Exception as exc:
            error = exc
        finally:
            await adapter.close()
        proxy.settled()
        assert (outcome(error), len(fx.tweets)) == X[fault]


# --------------------------------------------------------------------------- SMTP

SMTP = {  # fault: (the server's behaviour, what the messenger answers, messages it took)
    "timeout": ("timeout", "broken", 1),        # may have been taken: sent again, may repeat
    "reset": ("reset", "broken", 1),
    "429": ("451", "refused 451", 1),           # a 4xx: that subscriber later (soft)
    "429-bare": ("421", "refused 421", 1),      # the server hangs up: a new connection
    "5xx": ("554", "refused 554", 1),           # a 5xx: a bounce (5.7.1: soft)
    "malformed": ("malformed", "cannot connect", 0),
    "tls": (None, "cannot connect", 0),          # security: tls against a plain server
}


@pytest.mark.parametrize("fault", ALL)
async def test_smtp(fault: str) -> None:
    behaviour, expected, taken = SMTP[fault]
    with ScriptedSmtp(behaviour) as server:
        smtp = SmtpConfig(host="127.0.0.1", port=server.port, timeout=waited(fault),
                          security="tls" if fault == "tls" else "none")
        messenger = Connection(smtp, "daily", attempts=1)
        try:
            await messenger.open()
            answer = await messenger.send("redaksi@rinews.example", "ana@example.org",
                                          b"Subject: Berita\r\n\r\nIsi.\r\n", [])
            got = answer.kind if answer.kind != "refused" else f"refused {answer.code}"
        except ConnectError as exc:
            got = "cannot connect"
            assert "smtp" in exc.message.lower() and "127.0.0.1" in exc.message
        finally:
            await messenger.close()
        assert (got, server.taken) == (expected, taken)


# --------------------------------------------------------------------------- feeds

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>RI</title>
<link>https://rinews.example/</link><description>d</description>
<item><title>Banjir di Semarang</title><link>https://rinews.example/banjir</link>
<guid>banjir-1</guid><description>Hujan deras.</description></item>
</channel></rss>"""

FEEDS = {  # fault: words of the problem line; every time the next poll reads the item
    "timeout": "no answer from",
    "reset": "could not connect to",
    "429": "answered HTTP 429",
    "429-bare": "answered HTTP 429",
    "5xx": "answered HTTP 502",
    "malformed": "not",
    "tls": "could not connect to",
}


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.mark.parametrize("fault", ALL)
async def test_feed(feeds: FeedServer, fault: str) -> None:
    feeds.route("/rss.xml", body=RSS)
    with FaultProxy(feeds.base_url) as proxy:
        config = FeedSourceConfig(name="portal", type="feed", timeout=waited(fault),
                                  url=(proxy.tls_url if fault == "tls" else proxy.url)
                                  + "/rss.xml")
        if fault != "tls":
            proxy.fail("/rss.xml", fault)
        with pytest.raises(SourceError) as problem:
            await fetch_feed(config, SourceState())
        assert FEEDS[fault] in str(problem.value) and "\n" not in str(problem.value)
        # Retry-After kept for the source's next polls (test_feed_retry_after.py)
        assert isinstance(problem.value, SourceBusy) == (fault == "429")
        if fault == "tls":
            return  # a TLS error stays until the address or the server is fixed
        again = await fetch_feed(config, SourceState())  # the next poll: nothing was lost
        assert [a.title for a in again.articles] == ["Banjir di Semarang"]


# --------------------------------------------------------------------------- the store


def _listener(mode: str) -> tuple[int, socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    stop = threading.Event()

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            if mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            elif mode == "malformed":
                conn.recv(1000)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                conn.close()
            else:
                stop.wait(30)  # never answers
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1], sock


STORE: dict[str, Any] = {  # fault: words of the one error (StoreError), or None: no such fault
    "timeout": "timeout expired",   # only with connect_timeout in the URL (see the doc)
    "reset": "reset by peer|closed the connection unexpectedly",
    "429": None, "429-bare": None, "5xx": None,  # a database has no such answers
    "malformed": "invalid response",
    "tls": "server does not support SSL",
}


@pytest.mark.parametrize("fault", [f for f in ALL if STORE[f]])
def test_store(fault: str, pg_url: str) -> None:
    if fault == "tls":
        url = pg_url + ("&" if "?" in pg_url else "?") + "sslmode=require"
    else:
        port, sock = _listener(fault)
        url = f"postgresql://root@127.0.0.1:{port}/distributor?connect_timeout=2"
    with pytest.raises(StoreError) as error:
        open_store(url)
    assert re.search(STORE[fault], str(error.value)) and "check `database:`" in str(error.value)
    if fault != "tls":
        sock.close()


def test_a_postgresql_that_never_answers_is_one_error_after_the_default_connect_timeout(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``?connect_timeout=`` in the URL libpq waited for ever (still after 20 s). The
    default (10 s) is shortened here to 2 s: what is tested is that it reaches libpq."""
    from distributor.store import db
    from distributor.store.db import CONNECT_TIMEOUT

    assert CONNECT_TIMEOUT == 10
    monkeypatch.setattr(db, "CONNECT_TIMEOUT", 2)
    port, sock = _listener("timeout")
    try:
        with pytest.raises(StoreError) as error:
            open_store(f"postgresql://root@127.0.0.1:{port}/distributor")
    finally:
        sock.close()
    assert "timeout expired" in str(error.value), error.value  # not the listener's hang-up


# --------------------------------------------------------------------------- through the ledger

LEDGER = {  # fault: {platform: (state after a pass, after the next pass once the fault is
    # gone and the ledger's wait made due, posts on the platform)}
    "timeout": {"telegram": ("unknown", "unknown", 1),  # shown to editors, never resent
                "x": ("unknown", "sent", 1)},  # found on the timeline by reconciliation
    "reset": {"telegram": ("unknown", "unknown", 1), "x": ("unknown", "sent", 1)},
    # Telegram's flood wait is kept by the channel itself, even when the ledger is made due
    "429": {"telegram": ("retry", "retry", 0), "x": ("retry", "sent", 1)},
    "429-bare": {"telegram": ("retry", "sent", 1), "x": ("retry", "sent", 1)},
    "5xx": {"telegram": ("retry", "sent", 1), "x": ("retry", "sent", 1)},
    "malformed": {"telegram": ("unknown", "unknown", 1), "x": ("unknown", "sent", 1)},
}


@pytest.mark.parametrize("platform", ["telegram", "x"])
@pytest.mark.parametrize("fault", FAULTS)
async def test_through_the_ledger_nothing_is_posted_twice(
        write_config: Any, platform: str, fault: str) -> None:
    from support.channel_runs import add_articles, deliveries, make_due, open_runtime

    from distributor.clock import utcnow
    from distributor.engine.dispatcher import Dispatcher

    with FakeTelegram() as tg, FakeX() as fx, FaultProxy(
            tg.url if platform == "telegram" else fx.url) as proxy:
        wait = waited(fault)
        if platform == "telegram":
            channel = (f'  - {{name: telegram, type: telegram, chat_id: "{tg.channel.handle}", '
                       f'token: "{tg.token}", api_base_url: "{proxy.url}", timeout: {wait}, '
                       "reconcile_wait: 0}\n")  # no observer bot: nothing to find
            target, body = "sendMessage", {"ok": False, "error_code": 429,
                                           "description": "Too Many Requests: retry after 7",
                                           "parameters": {"retry_after": 7}}
        else:
            keys = ", ".join(f'{k}: "{v}"' for k, v in fx.credentials.items())
            channel = (f'  - {{name: x, type: x, {keys}, api_base_url: "{proxy.url}", '
                       f"timeout: {wait}}}\n")
            target, body = "/2/tweets", {"title": "Too Many Requests", "status": 429,
                                         "detail": "Too Many Requests", "type": "about:blank"}
        rt = open_runtime(write_config("channels:\n" + channel))
        try:
            add_articles(rt, 1)
            proxy.fail(target, fault, body=body, bare_body={"ok": False, "error_code": 429,
                                                            "description": "Too Many Requests"}
                       if platform == "telegram" else body)
            await Dispatcher(rt).run_once()
            proxy.settled()
            [first] = deliveries(rt, platform)
            if fault == "429":  # the wait the platform asked for is kept
                assert first.next_attempt_at is not None and (
                    first.next_attempt_at - utcnow()).total_seconds() > 5
            make_due(rt)
            await Dispatcher(rt).run_once()
            [then] = deliveries(rt, platform)
        finally:
            await rt.close()
        posted = len(tg.messages_in(tg.channel.id)) if platform == "telegram" else len(fx.tweets)
        assert (first.state, then.state, posted) == LEDGER[fault][platform]
