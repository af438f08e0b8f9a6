"""Every way a Telegram bot stops closes its HTTP clients and their connections: a start
Telegram refuses (401, 500), a start that gets no answer, a start cancelled (before getMe,
while getMe hangs, while setWebhook hangs), and an ordinary close. For the channel's bot, its
observer bot and the editor bot (long polling and webhook).

The bots talk to the Telegram double through a TCP relay (:class:`Relay`), which sees each
connection a bot opens and when the bot closes it: what a server sees of a client that leaks
its connections. It also counts the httpx clients made meanwhile that are still open.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fakes.telegram_api import FakeTelegram
from support.editor_bots import until
from support.timeouts import ANSWERED, LATE, SILENT

from distributor.channels.telegram.adapter import TelegramAdapter, TelegramConfig
from distributor.channels.telegram.editorbot import run_editor_bots
from distributor.channels.telegram.editorhooks import EditorWebhooks
from distributor.configfile import load_config
from distributor.plugin import ChannelError
from distributor.plugin.testing import send_context
from distributor.runtime import Runtime
from distributor.services.desk import ServiceDesk

WRONG_TOKEN = "7012345678:AAwrongwrongwrongwrongwrongwrong01"
OBSERVER_TOKEN = "7099999999:AAobserverobserverobserverobserver1"
EDITOR = 111
#: a connection a client leaks stays open; the double itself drops an idle one after 5 s, so
#: every connection must be seen closed well before that
CLOSED_WITHIN = 2.0


class Relay:
    """A TCP relay in front of the double: counts the connections clients open through it and
    sees each one closed by its client (or by the double)."""

    def __init__(self, target: str, warned: list[warnings.WarningMessage]):
        self._warned = warned
        #: the HTTP clients that were there before
        self._clients = weakref.WeakSet(_clients())
        parts = urlsplit(target)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.url = ""
        #: connections opened so far
        self.opened = 0
        #: numbers of the connections not closed yet
        self.open: set[int] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:  # every pump ends
            writer.close()
        await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 5)

    async def _relay(self, client_in: asyncio.StreamReader,
                     client_out: asyncio.StreamWriter) -> None:
        me = asyncio.current_task()
        assert me is not None
        self._tasks.add(me)
        self.opened += 1
        number = self.opened
        self.open.add(number)
        server_in, server_out = await asyncio.open_connection(*self._target)
        self._writers += [client_out, server_out]
        to_client = asyncio.create_task(_pump(server_in, client_out))
        self._tasks.add(to_client)
        await _pump(client_in, server_out)  # until the client closes its end
        self.open.discard(number)

    async def left_open(self, within: float = CLOSED_WITHIN, *, kept: int = 0
                        ) -> tuple[int, int, list[str]]:
        """Once at most ``kept`` connections are open or ``within`` seconds passed: (the connections
        open, the HTTP clients made since the relay started that are open, the sockets closed
        by the garbage collector instead of their client). A dropped bot's clients are found
        because the cyclic garbage collector is off (see the fixture)."""
        deadline = time.monotonic() + within
        while len(self.open) > kept and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        clients = [c for c in _clients() if c not in self._clients and not c.is_closed]
        abandoned = [str(w.message) for w in self._warned if issubclass(w.category, ResourceWarning)
                     and str(w.message).startswith(("unclosed transport", "unclosed <socket"))]
        return len(self.open), len(clients), abandoned


def _clients() -> list[httpx.AsyncClient]:
    """The HTTP clients made since the relay fixture's collection. That collection left the
    young generations empty and the collector is off since, so every object made meanwhile is
    in generation 0: a walk of it alone finds them, not of the whole heap of the worker."""
    return [o for gen in (0, 1) for o in gc.get_objects(generation=gen)
            if isinstance(o, httpx.AsyncClient)]


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except OSError:
        pass
    finally:
        sink.close()


@pytest.fixture
async def relay(tg: FakeTelegram) -> AsyncIterator[Relay]:
    """The relay in front of ``tg``. The cyclic garbage collector is off meanwhile: a bot
    dropped with its connections open keeps them open, as it does in a long-running process
    until some later collection; and a connection closed when its dropped bot was freed (by
    the garbage collector, not by the bot) shows in the ResourceWarning it raises."""
    gc.collect(1)  # the young generations: empty now, older objects are out of the way
    gc.disable()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            async with Relay(tg.url, caught) as watched:
                yield watched
    finally:
        gc.enable()


def config_for(relay: Relay, tg: FakeTelegram, **overrides: Any) -> TelegramConfig:
    values: dict[str, Any] = {"name": "telegram", "chat_id": tg.channel.handle,
                              "token": tg.token, "api_base_url": relay.url, "timeout": ANSWERED,
                              "reconcile_wait": 0}
    values.update(overrides)
    return TelegramConfig(**values)


def refuse_start(tg: FakeTelegram, how: str) -> dict[str, Any]:
    """Make the bot's getMe fail ``how``; the channel's keys that go with it."""
    if how == "wrong token":  # 401 Unauthorized
        return {"token": WRONG_TOKEN}
    if how == "server error":
        tg.server_error(500, "Internal Server Error", methods=("getMe",))
    elif how == "no answer":
        tg.delay(LATE, methods=("getMe",), process_first=False)
        return {"timeout": SILENT}
    return {}


def getme_hangs(tg: FakeTelegram) -> None:
    """From now on getMe is not answered (until the double stops)."""
    tg.delay(60.0, methods=("getMe",), process_first=False)


async def cancelled_when_getme_arrives(tg: FakeTelegram, start: Any) -> None:
    """Run ``start`` in a task and cancel it once its getMe reached the double."""
    task = asyncio.ensure_future(start)
    await until(lambda: tg.calls_to("getMe"), timeout=10)
    await asyncio.sleep(0.05)  # the request is on its way: the bot waits for the answer
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --------------------------------------------------------------------------- the channel's bot

STARTS_REFUSED = ["wrong token", "server error", "no answer"]


@pytest.mark.parametrize("how", STARTS_REFUSED)
async def test_a_channel_whose_start_fails_closes_its_http_connections(
        tg: FakeTelegram, relay: Relay, how: str) -> None:
    telegram = TelegramAdapter(config_for(relay, tg, **refuse_start(tg, how)))

    with pytest.raises(ChannelError):
        await telegram.send({"method": "sendMessage", "text": "Judul"}, send_context())

    assert relay.opened >= 1
    assert await relay.left_open() == (0, 0, [])
    await telegram.close()


async def test_a_channel_start_cancelled_while_getme_hangs_closes_its_http_connections(
        tg: FakeTelegram, relay: Relay) -> None:
    getme_hangs(tg)
    telegram = TelegramAdapter(config_for(relay, tg))

    await cancelled_when_getme_arrives(tg, telegram.check_online())

    assert relay.opened == 1
    assert await relay.left_open() == (0, 0, [])
    await telegram.close()


async def test_a_channel_start_cancelled_before_getme_closes_the_bots_http_clients(
        tg: FakeTelegram, relay: Relay) -> None:
    telegram = TelegramAdapter(config_for(relay, tg))
    task = asyncio.ensure_future(telegram.check_online())
    await asyncio.sleep(0)  # the bot is being made (in a thread)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.5)  # the thread made the bot meanwhile

    assert tg.calls == []
    assert await relay.left_open() == (0, 0, [])
    await telegram.close()


async def test_closing_a_channel_closes_its_http_connections(
        tg: FakeTelegram, relay: Relay) -> None:
    telegram = TelegramAdapter(config_for(relay, tg))
    await telegram.send({"method": "sendMessage", "text": "Judul"}, send_context())
    assert await relay.left_open(within=0) == (1, 2, [])  # kept for the next post

    await telegram.close()

    assert await relay.left_open() == (0, 0, [])


# --------------------------------------------------------------------------- the observer bot


@pytest.mark.parametrize("how", ["wrong token", "server error"])
async def test_an_observer_bot_whose_start_fails_closes_its_http_connections(
        tg: FakeTelegram, relay: Relay, how: str) -> None:
    if how == "wrong token":
        observer = OBSERVER_TOKEN  # the double knows no such bot: 401
    else:
        observer = tg.add_bot(OBSERVER_TOKEN, "rinews_observer", admin_of=[tg.channel]).token
        tg.server_error(500, "Internal Server Error", methods=("getMe",))
    telegram = TelegramAdapter(config_for(relay, tg, observer_token=observer))
    lost = {"method": "sendMessage", "text": "Judul"}

    assert await telegram.reconcile([lost], []) is None  # looked at the channel's bot's updates

    assert tg.calls_to("getUpdates")  # the channel's bot started and read
    # only the channel's bot's connections are left (its getMe's and its getUpdates')
    assert await relay.left_open(kept=2) == (2, 2, [])
    await telegram.close()
    assert await relay.left_open() == (0, 0, [])


async def test_closing_a_channel_closes_its_observer_bots_http_connections(
        tg: FakeTelegram, relay: Relay) -> None:
    tg.add_bot(OBSERVER_TOKEN, "rinews_observer", admin_of=[tg.channel])
    telegram = TelegramAdapter(config_for(relay, tg, observer_token=OBSERVER_TOKEN))
    await telegram.reconcile([{"method": "sendMessage", "text": "Judul"}], [])
    assert len([c for c in tg.calls_to("getUpdates") if c.token_ok]) == 2

    await telegram.close()

    assert relay.opened == 4  # each bot's getMe and getUpdates
    assert await relay.left_open() == (0, 0, [])


# --------------------------------------------------------------------------- the editor bot


@pytest.fixture
def editors_runtime(write_config: Callable[..., Path], tg: FakeTelegram,
                    relay: Relay) -> Iterator[Callable[..., Runtime]]:
    """A runtime whose Telegram channel has an editor bot (``mode``) reached through the
    relay, with ``token``."""
    opened: list[Runtime] = []

    def open_runtime(mode: str = "polling", token: str | None = None) -> Runtime:
        path = write_config(f"""\
            channels:
              - name: telegram
                type: telegram
                chat_id: "{tg.channel.handle}"
                token: "{token or tg.token}"
                api_base_url: {relay.url}
                timeout: {SILENT}
                reconcile_wait: 0
                editors: [{EDITOR}]
                editor_bot: {mode}
            """)
        runtime = Runtime.open(load_config(path))
        opened.append(runtime)
        return runtime

    yield open_runtime
    for runtime in opened:
        runtime.store.dispose()


@pytest.mark.parametrize("how", ["wrong token", "server error"])
async def test_an_editor_bot_whose_start_fails_closes_its_http_connections(
        tg: FakeTelegram, relay: Relay, editors_runtime: Callable[..., Runtime],
        how: str) -> None:
    rt = editors_runtime(token=refuse_start(tg, how).get("token"))
    stop = asyncio.Event()
    task = asyncio.create_task(run_editor_bots(ServiceDesk(rt), stop, poll_timeout=0.5))
    try:
        await until(lambda: tg.calls_to("getMe"), timeout=10)

        # a wrong token ends the bot; after a server error it waits to start again
        assert await relay.left_open() == (0, 0, [])
        assert relay.opened == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await rt.close()
    assert tg.calls_to("getUpdates") == []


async def test_an_editor_bot_cancelled_while_getme_hangs_closes_its_http_connections(
        tg: FakeTelegram, relay: Relay, editors_runtime: Callable[..., Runtime]) -> None:
    getme_hangs(tg)
    rt = editors_runtime()

    await cancelled_when_getme_arrives(
        tg, run_editor_bots(ServiceDesk(rt), asyncio.Event(), poll_timeout=0.5))

    assert relay.opened == 1
    assert await relay.left_open() == (0, 0, [])
    await rt.close()


async def test_an_editor_bot_that_stops_closes_its_http_connections(
        tg: FakeTelegram, relay: Relay, editors_runtime: Callable[..., Runtime]) -> None:
    rt = editors_runtime()
    stop = asyncio.Event()
    task = asyncio.create_task(run_editor_bots(ServiceDesk(rt), stop, poll_timeout=0.5))
    await until(lambda: tg.calls_to("getUpdates"), timeout=10)

    stop.set()
    await asyncio.wait_for(task, 10)

    assert relay.opened >= 2  # getMe, then the long polls
    assert await relay.left_open() == (0, 0, [])
    await rt.close()


@pytest.mark.parametrize("how", ["wrong token", "server error"])
async def test_a_webhook_editor_bot_whose_start_fails_closes_its_http_connections(
        tg: FakeTelegram, relay: Relay, editors_runtime: Callable[..., Runtime],
        how: str) -> None:
    rt = editors_runtime("webhook", token=refuse_start(tg, how).get("token"))
    hooks = EditorWebhooks(ServiceDesk(rt))

    await hooks.start()

    assert [h.app for h in hooks.hooks] == [None]  # not running: the route answers 503
    assert relay.opened == 1
    assert await relay.left_open() == (0, 0, [])
    await hooks.stop()
    await rt.close()


async def test_a_webhook_editor_bot_cancelled_while_getme_hangs_closes_its_http_connections(
        tg: FakeTelegram, relay: Relay, editors_runtime: Callable[..., Runtime]) -> None:
    getme_hangs(tg)
    rt = editors_runtime("webhook")
    hooks = EditorWebhooks(ServiceDesk(rt))

    await cancelled_when_getme_arrives(tg, hooks.start())

    assert relay.opened == 1
    assert await relay.left_open() == (0, 0, [])
    await hooks.stop()
    await rt.close()


async def test_a_webhook_editor_bot_cancelled_while_registering_leaves_nothing_running(
        tg: FakeTelegram, relay: Relay, editors_runtime: Callable[..., Runtime]) -> None:
    tg.delay(60.0, methods=("setWebhook",), process_first=False)
    rt = editors_runtime("webhook")
    hooks = EditorWebhooks(ServiceDesk(rt))
    task = asyncio.ensure_future(hooks.start())
    await until(lambda: tg.calls_to("setWebhook"), timeout=10)  # getMe answered, app started

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert [t.get_name() for t in asyncio.all_tasks() if "update_fetcher" in t.get_name()] == []
    assert await relay.left_open() == (0, 0, [])
    await hooks.stop()
    await rt.close()


async def test_a_webhook_editor_bot_that_stops_closes_its_http_connections(
        tg: FakeTelegram, relay: Relay, editors_runtime: Callable[..., Runtime]) -> None:
    rt = editors_runtime("webhook")
    hooks = EditorWebhooks(ServiceDesk(rt))
    await hooks.start()
    assert tg.calls_to("setWebhook")

    await hooks.stop()

    assert relay.opened >= 1
    assert await relay.left_open() == (0, 0, [])
    await rt.close()
