"""The delivery ledger against a real HTTP platform (the webhook plugin), on SQLite and
PostgreSQL: each article is published once, failures end in the right state, nothing is lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from support.timeouts import ANSWERED, LATE, SILENT
from support.webhook_server import WebhookServer

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.deliveries import plan_deliveries, request_delivery
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.store.models import ChannelState, Delivery, DeliveryEvent, DeliveryPart

pytestmark = pytest.mark.usefixtures("webhook_plugin")


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer() as srv:
        yield srv


@pytest.fixture
def make_rt(write_config: Callable[..., Path], db_url: str,
            server: WebhookServer) -> Iterator[Callable[..., Runtime]]:
    opened: list[Runtime] = []

    def make(parts: int = 1, cap: int | None = None, timeout: float = ANSWERED) -> Runtime:
        path = write_config(f"""\
            channels:
              - name: hook
                type: webhook
                url: {server.url}
                timeout: {timeout}
                parts: {parts}
                max_posts_per_day: {cap or "null"}
              - name: later
                type: webhook
                publish: manual
                url: {server.url}
            """, database=db_url)
        rt = Runtime.open(load_config(path))
        opened.append(rt)
        return rt

    yield make
    for rt in opened:
        rt.store.dispose()


def add_articles(rt: Runtime, n: int, *, published: datetime | None = None) -> list[int]:
    now = datetime.now(UTC)
    ids = []
    with rt.store.session() as session:
        for i in range(n):
            article = Article(source="test", key=f"k{i}", url=f"https://rinews.example/{i}",
                              title=f"Berita {i}", lede=f"Lede {i}.",
                              published=published or now - timedelta(minutes=n - i))
            row, _ = store_article(session, article, now=now, max_age=timedelta(days=2))
            ids.append(row.id)
    return ids


def states(rt: Runtime) -> dict[int, str]:
    with rt.store.session() as session:
        return {d.article_id: d.state for d in session.scalars(
            select(Delivery).where(Delivery.channel == "hook"))}


def make_due(rt: Runtime) -> None:
    """Let time pass: every waiting delivery and channel is due again."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    with rt.store.session() as session:
        session.execute(update(Delivery).values(next_attempt_at=past))
        session.execute(update(ChannelState).values(next_send_at=past))


async def test_each_article_is_published_once_in_order(make_rt, server) -> None:
    rt = make_rt()
    add_articles(rt, 3)
    report = await Dispatcher(rt).run_once()
    assert len(report.sent) == 3
    assert server.texts() == ["Berita 0", "Berita 1", "Berita 2"]
    again = await Dispatcher(rt).run_once()
    assert again.sent == [] and len(server.received) == 3
    assert set(states(rt).values()) == {"sent"}


async def test_planning_twice_creates_one_row_per_article_and_instant_channel(make_rt) -> None:
    rt = make_rt()
    add_articles(rt, 2)
    assert plan_deliveries(rt) == 2
    assert plan_deliveries(rt) == 0
    with rt.store.session() as session:
        channels = sorted(d.channel for d in session.scalars(select(Delivery)))
    assert channels == ["hook", "hook"]  # the manual channel gets nothing by itself


async def test_articles_older_than_max_age_are_stored_but_not_posted(make_rt, server) -> None:
    rt = make_rt()
    add_articles(rt, 2, published=datetime.now(UTC) - timedelta(days=5))
    await Dispatcher(rt).run_once()
    assert server.received == [] and states(rt) == {}


async def test_a_server_error_is_retried_later_and_then_sent(make_rt, server) -> None:
    rt = make_rt()
    (article_id,) = add_articles(rt, 1)
    server.answer(500)
    report = await Dispatcher(rt).run_once()
    assert report.retry and states(rt) == {article_id: "retry"}
    with rt.store.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert delivery.next_attempt_at > datetime.now(UTC)
        assert delivery.last_error == "server error 500"
    assert (await Dispatcher(rt).run_once()).sent == []  # not before its time
    make_due(rt)
    assert len((await Dispatcher(rt).run_once()).sent) == 1
    assert server.texts() == ["Berita 0"]


async def test_a_rate_limit_holds_the_whole_channel_and_keeps_the_order(make_rt, server) -> None:
    rt = make_rt()
    add_articles(rt, 3)
    server.answer(429, **{"Retry-After": "120"})
    await Dispatcher(rt).run_once()
    assert server.received == []
    with rt.store.session() as session:
        state = session.get_one(ChannelState, "hook")
        assert state.next_send_at is not None
        assert state.next_send_at >= datetime.now(UTC) + timedelta(seconds=110)
        first = session.scalars(select(Delivery).order_by(Delivery.article_id)).first()
        assert first is not None and first.attempts == 0  # a rate limit uses up no attempt
    assert set(states(rt).values()) == {"retry", "pending"}
    make_due(rt)
    await Dispatcher(rt).run_once()
    assert server.texts() == ["Berita 0", "Berita 1", "Berita 2"]


async def test_a_refusal_fails_with_the_platforms_reason(make_rt, server) -> None:
    rt = make_rt()
    (article_id,) = add_articles(rt, 1)
    server.answer(400)
    report = await Dispatcher(rt).run_once()
    assert report.failed and states(rt) == {article_id: "failed"}
    with rt.store.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert delivery.last_error == 'refused: {"error": 400}'
    make_due(rt)
    await Dispatcher(rt).run_once()
    assert server.received == []


async def test_bad_credentials_pause_the_channel_without_losing_the_article(
    make_rt, server,
) -> None:
    rt = make_rt()
    add_articles(rt, 2)
    server.answer(401)
    await Dispatcher(rt).run_once()
    with rt.store.session() as session:
        assert session.get_one(ChannelState, "hook").paused_reason == "bad credentials"
    assert set(states(rt).values()) == {"retry", "pending"}
    await Dispatcher(rt).run_once()
    assert server.received == []
    with rt.store.session() as session:
        session.get_one(ChannelState, "hook").paused_reason = None
    make_due(rt)
    await Dispatcher(rt).run_once()
    assert len(server.received) == 2


async def test_no_answer_leaves_the_delivery_unknown_and_never_resends_it(
    make_rt, server,
) -> None:
    rt = make_rt(timeout=SILENT)
    (article_id,) = add_articles(rt, 1)
    server.answer(0, sleep=str(LATE))
    report = await Dispatcher(rt).run_once()
    assert report.unknown and states(rt) == {article_id: "unknown"}
    make_due(rt)
    await Dispatcher(rt).run_once()
    assert len(server.received) == 1


async def test_a_thread_broken_in_the_middle_resumes_at_the_failed_part(make_rt, server) -> None:
    rt = make_rt(parts=3)
    add_articles(rt, 1)
    server.answer(200)
    server.answer(503)
    await Dispatcher(rt).run_once()
    assert server.texts() == ["Berita 0 (1/3)"]
    make_due(rt)
    await Dispatcher(rt).run_once()
    assert server.texts() == ["Berita 0 (1/3)", "Berita 0 (2/3)", "Berita 0 (3/3)"]
    assert [r["reply_to"] for r in server.received] == [None, "m1", "m2"]
    with rt.store.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert [p.remote_id for p in delivery.parts] == ["m1", "m2", "m3"]
        assert delivery.state == "sent" and delivery.remote_id == "m1"


async def test_a_delivery_left_sending_by_a_dead_process_becomes_unknown(make_rt, server) -> None:
    rt = make_rt()
    add_articles(rt, 1)
    plan_deliveries(rt)
    with rt.store.session() as session:
        session.execute(update(Delivery).values(
            state="sending", lease_owner="elsewhere:1:x",
            lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    await Dispatcher(rt).run_once()
    assert server.received == []
    assert set(states(rt).values()) == {"unknown"}
    with rt.store.session() as session:
        events = [e.state for e in session.scalars(select(DeliveryEvent))]
        delivery = session.scalars(select(Delivery)).one()
    assert events[-1] == "unknown"
    assert f"deliveries retry {delivery.id} --force" in (delivery.last_error or "")


async def test_push_is_idempotent_unless_forced(make_rt, server) -> None:
    rt = make_rt()
    (article_id,) = add_articles(rt, 1, published=datetime.now(UTC) - timedelta(days=9))
    with rt.store.session() as session:
        delivery, what = request_delivery(session, article_id, "later")
        delivery_id = delivery.id
    assert what == "queued"
    await Dispatcher(rt).run_once(only=[delivery_id])
    assert server.texts() == ["Berita 0"]
    with rt.store.session() as session:
        _, what = request_delivery(session, article_id, "later")
    assert what == "already-sent"
    with rt.store.session() as session:
        _, what = request_delivery(session, article_id, "later", force=True)
    assert what == "queued"
    await Dispatcher(rt).run_once(only=[delivery_id])
    assert len(server.received) == 2


async def test_the_daily_cap_defers_the_rest_in_order(make_rt, server) -> None:
    rt = make_rt(cap=2)
    add_articles(rt, 3)
    await Dispatcher(rt).run_once()
    assert server.texts() == ["Berita 0", "Berita 1"]
    assert sorted(states(rt).values()) == ["pending", "sent", "sent"]
    with rt.store.session() as session:  # a day passes
        session.execute(update(DeliveryPart).values(
            sent_at=datetime.now(UTC) - timedelta(days=1, seconds=1)))
    await Dispatcher(rt).run_once()
    assert server.texts()[-1] == "Berita 2"
