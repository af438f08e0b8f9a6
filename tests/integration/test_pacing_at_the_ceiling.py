"""Posts at the channel's ceiling exactly: with a long queue, each post's request leaves
``60 / rate_per_minute`` seconds after the previous one's, never sooner (the Telegram double
refuses a sooner one with 429, as Telegram does) and with nothing added for the post's round
trip or the ledger's writes (the dispatcher paces from the time the adapter says the post's
request left: ``SendContext.request_sent``, plugin API 1.3).

The doubles answer each post late (a slow platform), so pacing from the end of a send, as
before, would show in the pacing's own plan: these tests read the plan (the channel's next
send time and each part's recorded request time), not how long anything took."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram_api import FakeTelegram
from fakes.x_api import POST_TWEETS, FakeX
from sqlalchemy import select
from support.webhook_server import WebhookServer

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.ingest import store_article
from distributor.plugin import ActionKind
from distributor.runtime import Runtime
from distributor.services.corrections import correct, retract
from distributor.store.models import ChannelState, Delivery, DeliveryPart

#: the ceiling of these tests: 60 posts a minute, one a second
RATE = 60
GAP = timedelta(seconds=60 / RATE)
#: each post is answered this late (less than the gap: the platform keeps up with the rate)
SLOW = 0.4
QUEUE = 5


@pytest.fixture
async def make_rt(write_config: Callable[..., Path]) -> AsyncIterator[Callable[[str], Runtime]]:
    opened: list[Runtime] = []

    def make(channel: str) -> Runtime:
        rt = Runtime.open(load_config(write_config("channels:\n" + channel)))
        opened.append(rt)
        return rt

    yield make
    for rt in opened:
        await rt.close()


@pytest.fixture
def fx() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


def queue(rt: Runtime, n: int = QUEUE) -> None:
    """``n`` short articles, published a minute apart: one post each."""
    now = datetime.now(UTC)
    with rt.store.session() as session:
        for i in range(n):
            store_article(session, Article(
                source="test", key=f"antre{i}", url=f"https://rinews.example/berita/antre-{i}",
                title=f"Antrean {i}", lede=f"Berita antrean nomor {i}.",
                published=now - timedelta(minutes=n - i)), now=now)


def first_parts(rt: Runtime, channel: str) -> list[datetime]:
    """When each delivery's first post request left, as the dispatcher recorded it, in the
    order the deliveries went out."""
    with rt.store.session() as session:
        return sorted(session.scalars(
            select(DeliveryPart.sent_at).join(Delivery)
            .where(Delivery.channel == channel, DeliveryPart.idx == 0)).all())


def planned(rt: Runtime, channel: str) -> datetime | None:
    with rt.store.session() as session:
        state = session.get(ChannelState, channel)
        return state.next_send_at if state is not None else None


def channel_yaml(name: str, kind: str, **keys: Any) -> str:
    return "".join([f"  - name: {name}\n    type: {kind}\n    rate_per_minute: {RATE}\n",
                    *(f"    {key}: {value}\n" for key, value in keys.items())])


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 3) for a, b in itertools.pairwise(times)]


async def test_telegram_posts_a_long_queue_exactly_at_the_ceiling_never_sooner(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram) -> None:
    rt = make_rt(channel_yaml("telegram", "telegram", chat_id=f'"{tg.channel.handle}"',
                              token=f'"{tg.token}"', api_base_url=tg.url, timeout=5))
    queue(rt)
    # a post sooner than a second after the last is refused with 429 (by more than the way
    # to the double may shift on a busy machine: exactness is judged by the plan, below)
    tg.enforce_ceiling(RATE, slack=0.5)
    tg.delay(SLOW, times=QUEUE)  # each post is taken at once and answered late

    report = await Dispatcher(rt).run_once()

    assert len(report.sent) == QUEUE and not report.retry
    posts = tg.calls_to("sendMessage")
    assert [c.status for c in posts] == [200] * QUEUE  # no 429: never sooner than the ceiling
    requested = first_parts(rt, "telegram")
    # by the pacing's own clock: each post's request one gap after the previous, not sooner
    assert all(b - a >= GAP for a, b in itertools.pairwise(requested)), requested
    # each recorded time is the message request's (after getMe), before the double got it
    [get_me] = tg.calls_to("getMe")
    assert get_me.at <= requested[0].timestamp()
    assert all(t.timestamp() <= c.at for t, c in zip(requested, posts, strict=True))
    # and the plan adds nothing to the gap: the next post may go one gap after the last
    # request, not one gap after the late answer (which came SLOW later)
    assert planned(rt, "telegram") == requested[-1] + GAP, (
        f"gaps at the double: {gaps([c.at for c in posts])}")


async def test_x_posts_a_long_queue_exactly_at_the_ceiling_never_sooner(
        make_rt: Callable[[str], Runtime], fx: FakeX) -> None:
    keys = {**fx.credentials, "api_base_url": fx.url, "timeout": 5}
    rt = make_rt(channel_yaml("x", "x", **keys))
    queue(rt)
    fx.no_answer(SLOW, times=QUEUE)  # each post is made at once and answered late

    report = await Dispatcher(rt).run_once()

    assert len(report.sent) == QUEUE and not report.retry
    statuses = [r.status for r in fx.requests if r.endpoint == POST_TWEETS]
    assert statuses == [201] * QUEUE
    heads = sorted(t.created_at for t in fx.tweets if t.in_reply_to is None)
    assert len(heads) == QUEUE
    requested = first_parts(rt, "x")
    assert all(b - a >= GAP for a, b in itertools.pairwise(requested)), requested
    assert all(t.timestamp() <= at for t, at in zip(requested, heads, strict=True))
    assert planned(rt, "x") == requested[-1] + GAP, f"gaps at the double: {gaps(heads)}"


async def test_after_a_thread_the_next_post_keeps_the_gap_after_its_last_part(
        make_rt: Callable[[str], Runtime], fx: FakeX) -> None:
    """A thread's parts follow one another at once; the pace counts from the last of them,
    so a channel never posts two posts closer than the gap (from the first part, a three-part
    thread would let the next post follow its last part almost at once)."""
    keys = {**fx.credentials, "api_base_url": fx.url, "timeout": 5}
    rt = make_rt(channel_yaml("x", "x", **keys))
    now = datetime.now(UTC)
    with rt.store.session() as session:
        store_article(session, Article(
            source="test", key="panjang", url="https://rinews.example/berita/panjang",
            title="Cerita panjang", published=now - timedelta(minutes=1),
            lede=" ".join(f"Kalimat nomor {i} dari cerita yang panjang sekali ini." for i in
                          range(30))), now=now)
    fx.no_answer(SLOW / 4, times=10)  # each part is answered a little late

    report = await Dispatcher(rt).run_once()

    assert len(report.sent) == 1
    with rt.store.session() as session:
        parts = sorted(session.scalars(select(DeliveryPart.sent_at)).all())
    assert len(parts) >= 2, "the article made no thread"
    assert planned(rt, "x") == parts[-1] + GAP, parts


@pytest.mark.usefixtures("webhook_plugin")
async def test_a_plugin_that_does_not_report_its_request_is_paced_from_the_end_of_its_send(
        make_rt: Callable[[str], Runtime]) -> None:
    """A channel written against plugin API 1.2 or before never calls ``request_sent``: its
    next post is one gap after its send returned, as before (slower than its rate, never
    faster)."""
    with WebhookServer(delay=SLOW) as server:
        rt = make_rt(channel_yaml("hook", "webhook", url=server.url, secret="rahasia",
                                  timeout=5))
        queue(rt, 1)
        before = datetime.now(UTC)

        report = await Dispatcher(rt).run_once()

    assert len(report.sent) == 1 and len(server.received) == 1
    plan = planned(rt, "hook")
    assert plan is not None
    # the send returned at least SLOW after it began: the gap counts from then
    assert plan >= before + timedelta(seconds=SLOW) + GAP


def _article_id(rt: Runtime) -> int:
    with rt.store.session() as session:
        return session.scalars(select(Delivery.article_id)).one()


async def test_a_telegram_retraction_paces_the_next_post_from_its_request_not_its_late_answer(
        make_rt: Callable[[str], Runtime], tg: FakeTelegram) -> None:
    """A retraction, like a post, counts against the channel's pace from the moment its
    request left, not from the end of its send (the platform's late answer and the ledger's
    writes added to every gap before)."""
    rt = make_rt(channel_yaml("telegram", "telegram", chat_id=f'"{tg.channel.handle}"',
                              token=f'"{tg.token}"', api_base_url=tg.url, timeout=5))
    queue(rt, 1)
    assert len((await Dispatcher(rt).run_once()).sent) == 1
    tg.delay(SLOW, times=1, methods={"deleteMessage"})  # taken at once, answered late

    [outcome] = await retract(rt, _article_id(rt), reason="Salah sumber", wait=30)

    assert outcome.kind is ActionKind.DONE, outcome
    [delete] = tg.calls_to("deleteMessage")
    assert delete.status == 200
    plan = planned(rt, "telegram")
    assert plan is not None
    # one gap after the request, which left before the double took it; paced from the end,
    # the plan would be at least SLOW later than that
    assert plan - GAP <= datetime.fromtimestamp(delete.at, UTC), (plan, delete.at)


async def test_an_x_correction_paces_the_next_post_from_its_reply_not_its_late_answer(
        make_rt: Callable[[str], Runtime], fx: FakeX) -> None:
    keys = {**fx.credentials, "api_base_url": fx.url, "timeout": 5}
    rt = make_rt(channel_yaml("x", "x", **keys))
    queue(rt, 1)
    assert len((await Dispatcher(rt).run_once()).sent) == 1
    fx.no_answer(SLOW, times=1)  # the reply is made at once and answered late

    [outcome] = await correct(rt, _article_id(rt), note="Angka diperbaiki", wait=30)

    assert outcome.kind is ActionKind.DONE, outcome
    replies = [t for t in fx.tweets if t.in_reply_to is not None]
    assert len(replies) == 1 and "Angka diperbaiki" in replies[0].text
    plan = planned(rt, "x")
    assert plan is not None
    made = datetime.fromtimestamp(replies[0].created_at, UTC)
    assert plan - GAP <= made, (plan, made)
