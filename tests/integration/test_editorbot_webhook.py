"""The editor bot by webhook (``editor_bot: webhook``): ``distributor serve``'s routes in a real
uvicorn server, the fake Bot API POSTing updates to them as Telegram does (with the secret
header set by setWebhook), a real store and the real dispatcher."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fakes.telegram_api import FakeChat, FakeTelegram, SentMessage
from sqlalchemy import select
from support.timeouts import ANSWERED

from distributor.articles import Article
from distributor.channels.telegram.editorbot import editor_bot_groups, run_editor_bots
from distributor.channels.telegram.editorhooks import (
    SECRET_HEADER,
    EditorWebhooks,
    WebhookConfigError,
    webhook_secrets,
)
from distributor.configfile import load_config
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.services.desk import ServiceDesk
from distributor.store.models import ArticleRow, Delivery

EDITOR = 111
STRANGER = 999
URL = "https://rinews.example/berita/rusia-indonesia"


@pytest.fixture
def port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def webhook_config(write_config: Callable[..., Path], tg: FakeTelegram, port: int,
                   mode: str = "webhook") -> Path:
    path = write_config(f"""\
        channels:
          - name: telegram
            type: telegram
            chat_id: "{tg.channel.handle}"
            token: "{tg.token}"
            api_base_url: {tg.url}
            timeout: {ANSWERED}
            reconcile_wait: 0
            editors: [{EDITOR}]
            editor_bot: {mode}
        """)
    path.write_text(path.read_text().replace("http://localhost:8000",
                                             f"http://127.0.0.1:{port}"))
    return path


@pytest.fixture
def rt(write_config: Callable[..., Path], tg: FakeTelegram, port: int) -> Iterator[Runtime]:
    runtime = Runtime.open(load_config(webhook_config(write_config, tg, port)))
    yield runtime
    runtime.store.dispose()


class Served:
    """An ASGI app in a real uvicorn server on 127.0.0.1 (its own thread and event loop)."""

    def __init__(self, app: Any, port: int):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def served(rt: Runtime, port: int, tg: FakeTelegram) -> Iterator[Served]:
    from distributor.interfaces.web import create_app

    with Served(create_app(rt), port) as server:  # the app of `distributor serve`
        tg.wait_for(lambda: tg.bot.webhook_url)
        yield server


def add_article(rt: Runtime) -> int:
    article = Article(source="portal", key=URL, url=URL, title="Rusia dan Indonesia Sepakat",
                      lede="Kedua negara menandatangani kerja sama energi di Moskow pada Senin.",
                      published=datetime.now(UTC) - timedelta(minutes=5))
    with rt.store.session() as session:
        row, _ = store_article(session, article, now=datetime.now(UTC))
        return row.id


def summary_for(tg: FakeTelegram, user: int) -> SentMessage | None:
    with_buttons = [m for m in tg.messages_to(user) if m.reply_markup]
    return with_buttons[-1] if with_buttons else None


def states(rt: Runtime) -> dict[str, str]:
    with rt.store.session() as session:
        return {d.channel: d.state for d in session.scalars(select(Delivery))}


def update_from(user: int, text: str, update_id: int = 5000) -> dict[str, Any]:
    """A private message from ``user``, as Telegram POSTs it to a webhook."""
    message: dict[str, Any] = {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "from": {"id": user, "is_bot": False, "first_name": "Editor"},
        "chat": {"id": user, "type": "private", "first_name": "Editor"}}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0,
                                "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


# --------------------------------------------------------------------------- the flow


def test_serve_registers_the_webhook_and_an_editor_publishes_through_it(
        rt: Runtime, tg: FakeTelegram, served: Served) -> None:
    path, header = webhook_secrets(rt.config.web, tg.token)
    [registered] = tg.calls_to("setWebhook")
    assert registered.params["url"] == f"{served.url}/telegram/{path}"
    assert registered.params["secret_token"] == header
    assert set(json.loads(registered.params["allowed_updates"])) == {
        "message", "callback_query", "channel_post"}
    assert tg.token not in path + header and "test-secret-key" not in path + header
    article_id = add_article(rt)

    tg.user_says(EDITOR, URL)
    summary = tg.wait_for(lambda: summary_for(tg, EDITOR), timeout=10)

    preview = tg.messages_to(EDITOR)[0]
    expected = rt.adapter("telegram").render(_article(rt, article_id),
                                             rt.context(rt.config.channel("telegram")))[0]
    assert preview.text == expected["text"]
    assert tg.messages_in(tg.channel.handle) == []  # a preview publishes nothing
    tg.press(EDITOR, summary, summary.button("Publish to telegram")["callback_data"])
    tg.wait_for(lambda: states(rt) == {"telegram": "sent"}, timeout=10)
    tg.wait_for(lambda: "telegram: published" in summary.plain_text, timeout=10)

    [post] = tg.messages_in(tg.channel.handle)
    assert post.text == expected["text"]
    assert tg.calls_to("getUpdates") == []  # nothing long-polls this token
    posted = list(tg.webhook_posts)
    assert [p.status for p in posted] == [200, 200]
    assert [next(k for k in p.update if k != "update_id") for p in posted] == [
        "message", "callback_query"]


def test_a_stranger_writing_through_the_webhook_gets_the_polite_refusal(
        rt: Runtime, tg: FakeTelegram, served: Served) -> None:
    add_article(rt)

    tg.user_says(STRANGER, URL)
    [reply] = tg.wait_for(lambda: tg.messages_to(STRANGER), timeout=10)

    assert reply.plain_text.startswith("Sorry, this bot only works for the editors of RI News "
                                       "Portal. Nothing was published.")
    assert reply.reply_markup is None
    assert states(rt) == {} and tg.messages_in(tg.channel.handle) == []


def test_a_request_without_telegrams_secret_header_is_refused_and_does_nothing(
        rt: Runtime, tg: FakeTelegram, served: Served) -> None:
    tg.chats.append(FakeChat(id=EDITOR, title="Editor", type="private"))
    path, header = webhook_secrets(rt.config.web, tg.token)
    url = f"{served.url}/telegram/{path}"
    status = update_from(EDITOR, "/status")

    missing = httpx.post(url, json=status)
    wrong = httpx.post(url, json=status, headers={SECRET_HEADER: header[:-1] + "x"})
    other_path = httpx.post(f"{served.url}/telegram/{path[:-1]}x", json=status,
                            headers={SECRET_HEADER: header})
    time.sleep(0.5)

    assert (missing.status_code, wrong.status_code, other_path.status_code) == (403, 403, 404)
    assert tg.messages_to(EDITOR) == [] and tg.calls_to("sendMessage") == []

    # the same update with Telegram's header is answered: the refusals above were the header's
    right = httpx.post(url, json=update_from(EDITOR, "/status", 5001),
                       headers={SECRET_HEADER: header})
    assert right.status_code == 200
    [answer] = tg.wait_for(lambda: tg.messages_to(EDITOR), timeout=10)
    assert "Last deliveries" in answer.plain_text


def test_a_malformed_update_with_the_header_is_a_bad_request(
        rt: Runtime, tg: FakeTelegram, served: Served) -> None:
    path, header = webhook_secrets(rt.config.web, tg.token)

    answer = httpx.post(f"{served.url}/telegram/{path}", content=b"{not json",
                        headers={SECRET_HEADER: header, "Content-Type": "application/json"})

    assert answer.status_code == 400
    assert tg.calls_to("sendMessage") == []


# --------------------------------------------------------------------------- run and config


async def test_run_does_not_long_poll_a_webhook_bot_nor_does_reconciliation(
        rt: Runtime, tg: FakeTelegram) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_editor_bots(ServiceDesk(rt), stop, poll_timeout=0.5))
    await asyncio.sleep(0.5)
    lost = {"method": "sendMessage", "text": "<b>Judul</b>", "parse_mode": "HTML"}
    assert await rt.adapter("telegram").reconcile([lost], []) is None
    stop.set()
    await asyncio.wait_for(task, 5)
    await rt.close()

    assert tg.calls_to("getUpdates") == []
    assert tg.calls_to("deleteWebhook") == []


async def test_a_polling_bot_has_no_webhook_route(
        write_config: Callable[..., Path], tg: FakeTelegram, port: int) -> None:
    rt = Runtime.open(load_config(webhook_config(write_config, tg, port, mode="polling")))
    try:
        [group] = editor_bot_groups(rt.channels())
        assert group.mode == "polling"
        assert not EditorWebhooks(ServiceDesk(rt)).active
    finally:
        rt.store.dispose()


def test_the_webhook_secrets_are_stable_per_token_and_need_the_secret_key(
        rt: Runtime, tg: FakeTelegram) -> None:
    first = webhook_secrets(rt.config.web, tg.token)
    assert webhook_secrets(rt.config.web, tg.token) == first
    assert webhook_secrets(rt.config.web, "7099999999:AAotherotherotherotherotherother01") != first
    path, header = first
    assert len(path) == 32 and len(header) == 43
    assert all(c.isalnum() or c in "_-" for c in path + header)

    rt.config.web.secret_key = None
    with pytest.raises(WebhookConfigError, match=r"needs web\.secret_key"):
        webhook_secrets(rt.config.web, tg.token)


def _article(rt: Runtime, article_id: int) -> Article:
    from distributor.ledger.ingest import from_row

    with rt.store.session() as session:
        return from_row(session.get_one(ArticleRow, article_id))


async def test_back_to_polling_the_bot_removes_the_webhook_and_answers(
        write_config: Callable[..., Path], tg: FakeTelegram, port: int) -> None:
    tg.bot.webhook_url = f"http://127.0.0.1:{port}/telegram/old"  # left by an earlier serve
    rt = Runtime.open(load_config(webhook_config(write_config, tg, port, mode="polling")))
    stop = asyncio.Event()
    task = asyncio.create_task(run_editor_bots(ServiceDesk(rt), stop, poll_timeout=0.5))
    try:
        tg.user_says(STRANGER, URL)
        await asyncio.to_thread(tg.wait_for, lambda: tg.messages_to(STRANGER), 10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await rt.close()

    assert tg.bot.webhook_url == ""
    assert tg.calls_to("deleteWebhook") and tg.calls_to("getUpdates")
