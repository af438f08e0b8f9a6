"""Each channel its own queue (issue 19.3): a push to a healthy channel leaves at once while
another channel waits out an outage; before, both pushes shared one pass and the healthy one
waited for the unreachable one (57 s measured in the browser)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.webhook_server import WebhookServer

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.services import deliveries as desk
from distributor.services.sending import Sender

pytestmark = pytest.mark.usefixtures("webhook_plugin")


@pytest.fixture
def servers() -> Iterator[tuple[WebhookServer, WebhookServer]]:
    with WebhookServer() as down, WebhookServer() as healthy:
        yield down, healthy


@pytest.fixture
def rt(write_config: Callable[..., Path], servers: tuple[WebhookServer, WebhookServer]
       ) -> Iterator[Runtime]:
    down, healthy = servers
    path = write_config(f"""\
        channels:
          - name: down
            type: webhook
            publish: manual
            url: {down.url}
          - name: healthy
            type: webhook
            publish: manual
            url: {healthy.url}
        """)
    runtime = Runtime.open(load_config(path))
    yield runtime
    asyncio.run(runtime.close())


def article(rt: Runtime, title: str) -> int:
    now = datetime.now(UTC)
    with rt.store.session() as session:
        row = store_article(session, Article(
            source="newsroom", key=title, url=f"https://rinews.example/berita/{title}",
            title=title, lede="Lede.", published=now), now=now)[0]
        return row.id


async def test_a_push_to_a_healthy_channel_does_not_wait_for_a_channel_in_an_outage(
        rt: Runtime, servers: tuple[WebhookServer, WebhookServer]) -> None:
    down, healthy = servers
    down.answer(503, times=5, **{"Retry-After": "60"})
    # the dashboard's under `serve` with its scheduler: one per process, shared by every
    # editor's push, on the scheduler's dispatcher (which waits out an outage's retry)
    sender = Sender(rt, dispatcher=Dispatcher(rt))
    first = article(rt, "gempa")
    stuck = asyncio.create_task(desk.push(rt, first, ["down"], by="dashboard:a",
                                          sender=sender, wait=0))
    for _ in range(200):  # the first push is now waiting out the outage's minute
        if down.requests:
            break
        await asyncio.sleep(0.05)
    assert down.requests
    second = article(rt, "banjir")
    outcomes = await asyncio.wait_for(
        desk.push(rt, second, ["healthy"], by="dashboard:b", sender=sender, wait=0), 20)
    assert [o.delivery.state for o in outcomes] == ["sent"]
    assert [b["title"] for b in healthy.received] == ["banjir"]
    assert not stuck.done()  # still waiting for its own channel, and only it
    sender.dispatcher.stop()
    await asyncio.wait_for(stuck, 20)
    assert down.received == []


async def test_an_editors_push_to_a_channel_in_an_outage_says_at_once_when_it_is_tried_again(
        rt: Runtime, servers: tuple[WebhookServer, WebhookServer]) -> None:
    """A push during an outage waited it out in the foreground: 2 min 45 s at a terminal
    before "not published yet" (user audit). Now the first refusal is the answer: the
    delivery waits for its next try, which `distributor run` makes."""
    down, _ = servers
    down.answer(503, times=5, **{"Retry-After": "60"})

    [outcome] = await asyncio.wait_for(
        desk.push(rt, article(rt, "gempa"), ["down"], by="cli", wait=0), 20)

    assert outcome.delivery.state == "retry" and len(down.requests) == 1
    assert outcome.delivery.next_attempt_at is not None
    assert (outcome.delivery.next_attempt_at - datetime.now(UTC)).total_seconds() > 50
