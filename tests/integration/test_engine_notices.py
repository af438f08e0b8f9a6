"""What the engineer reads in the log while a channel cannot send (issue 19.10): a paused
channel and a channel held back are said once per change, not at every pass; the wait is named
by its real cause (an outage is not a "rate limit") and its time carries the site's zone; a
stop does not sit out a pacing wait, and says what it waits for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from support.timeouts import ANSWERED
from support.webhook_server import WebhookServer

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.engine.dispatcher import Dispatcher
from distributor.engine.embedded import Service
from distributor.engine.jobs import due_channels
from distributor.ledger.deliveries import plan_deliveries
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.store.models import ChannelState, Delivery

pytestmark = pytest.mark.usefixtures("webhook_plugin")


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer() as srv:
        yield srv


@pytest.fixture
def rt(write_config: Callable[..., Path], server: WebhookServer) -> Iterator[Runtime]:
    path = write_config(f"""\
        channels:
          - name: hook
            type: webhook
            url: {server.url}
            timeout: {ANSWERED}
        """)
    runtime = Runtime.open(load_config(path))
    now = datetime.now(UTC)
    with runtime.store.session() as session:
        for i in range(2):
            store_article(session, Article(
                source="newsroom", key=f"k{i}", url=f"https://rinews.example/berita/{i}",
                title=f"Berita {i}", lede=f"Lede {i}.", published=now), now=now)
    assert plan_deliveries(runtime) == 2
    yield runtime
    asyncio.run(runtime.close())


def lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


async def test_an_outage_wait_is_named_by_its_cause_in_site_time_and_said_once(
        rt: Runtime, server: WebhookServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    server.answer(503, **{"Retry-After": "600"})
    dispatcher = Dispatcher(rt)
    assert (await dispatcher.run_once()).retry
    for _ in range(3):  # the scheduler's next passes
        assert (await dispatcher.drain_channel("hook")).sent == []
    waits = lines(caplog, "channel hook waits")
    assert len(waits) == 1, waits
    assert "(after: server error 503)" in waits[0] and "rate limit" not in waits[0]
    assert waits[0].split(" (")[0].endswith(" WIB")  # Asia/Jakarta, labelled
    assert len(server.requests) == 1


async def test_a_paused_channel_is_said_once_and_again_after_it_was_resumed_and_paused(
        rt: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    def pause(reason: str | None) -> None:
        with rt.store.session() as session:
            session.merge(ChannelState(channel="hook", paused_reason=reason))

    pause("refused: bad secret")
    dispatcher = Dispatcher(rt)
    for _ in range(4):
        assert due_channels(rt) == []
        await dispatcher.drain_channel("hook")
    assert len(lines(caplog, "channel hook is paused")) == 1
    pause(None)
    with rt.store.session() as session:  # nothing due: resuming alone sends nothing here
        session.execute(update(Delivery).values(
            next_attempt_at=datetime.now(UTC) + timedelta(hours=1)))
    assert due_channels(rt) == []
    pause("refused: bad secret")
    with rt.store.session() as session:
        session.execute(update(Delivery).values(next_attempt_at=datetime.now(UTC)))
    due_channels(rt)
    assert len(lines(caplog, "channel hook is paused")) == 2


async def test_a_stop_ends_a_pacing_wait_at_once_and_says_nothing_was_in_flight(
        rt: Runtime, server: WebhookServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    server.answer(503, **{"Retry-After": "60"})  # under the pass's longest wait: it sleeps
    scheduler = Service(rt)
    running = asyncio.create_task(scheduler.run())
    for _ in range(200):
        if server.requests and scheduler.dispatcher._sleepers:
            break
        await asyncio.sleep(0.05)
    assert scheduler.dispatcher._sleepers, "the drain should be waiting out the Retry-After"
    scheduler.stop()
    await asyncio.wait_for(running, 20)  # the old stop sat out the whole minute
    assert lines(caplog, "stopping: nothing in flight")
    with rt.store.session() as session:
        assert {d.state for d in session.query(Delivery)} <= {"retry", "pending"}
