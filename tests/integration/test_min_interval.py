"""`min_interval` (issue 16): ten articles arriving in one minute on a Telegram channel with
`min_interval: 5m` go out one at a time, in order, five minutes apart (the ledger's clock is
moved forward instead of waiting); an editor's push goes before the waiting ones, and
`push --now` does not wait for the spacing at all. Against the fake Bot API and the real
dispatcher on a real SQLite ledger."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.telegram_api import FakeTelegram
from sqlalchemy import update

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.services import deliveries as services
from distributor.store.models import ChannelState

SPACING = timedelta(minutes=5)


@pytest.fixture
def rt(write_config: Callable[..., Path], tg: FakeTelegram) -> Iterator[Runtime]:
    path = write_config(f"""\
        channels:
          - name: telegram
            type: telegram
            chat_id: "{tg.channel.handle}"
            token: "{tg.token}"
            api_base_url: {tg.url}
            reconcile_wait: 0
            rate_per_minute: 600
            min_interval: 5m
        """)
    runtime = Runtime.open(load_config(path))
    yield runtime
    runtime.store.dispose()


def burst(rt: Runtime, n: int) -> list[int]:
    """``n`` articles first seen within the same minute, published a second apart."""
    now = datetime.now(UTC)
    with rt.store.session() as session:
        return [store_article(session, Article(
            source="wire", key=f"k{i}", url=f"https://rinews.example/berita/{i}",
            title=f"Berita {i}", lede=f"Isi berita nomor {i}.",
            published=now - timedelta(seconds=60 - i)), now=now)[0].id for i in range(n)]


def posts(tg: FakeTelegram) -> list[str]:
    return [m.plain_text.split("\n")[0] for m in tg.messages_in(tg.channel.id)]


def hold(rt: Runtime) -> datetime:
    with rt.store.session() as session:
        state = session.get_one(ChannelState, "telegram")
        assert state.next_send_at is not None
        return state.next_send_at


def time_passes(rt: Runtime) -> None:
    """As if the channel's spacing had ended (the next pass may post)."""
    with rt.store.session() as session:
        session.execute(update(ChannelState).values(
            next_send_at=datetime.now(UTC) - timedelta(seconds=1)))


async def test_a_burst_of_ten_goes_out_one_post_per_interval_in_order(
        rt: Runtime, tg: FakeTelegram) -> None:
    burst(rt, 10)
    sent_at = []
    for n in range(1, 11):
        report = await Dispatcher(rt).run_once()
        assert len(report.sent) == 1, f"pass {n} sent {len(report.sent)}"
        sent_at.append(tg.calls_to("sendMessage")[-1].at)
        assert hold(rt).timestamp() >= sent_at[-1] + SPACING.total_seconds() - 1
        assert posts(tg) == [f"Berita {i}" for i in range(n)]  # one more, in order
        again = await Dispatcher(rt).run_once()  # before the interval: nothing
        assert again.sent == []
        time_passes(rt)
    assert len(tg.messages_in(tg.channel.id)) == 10


async def test_an_editors_push_goes_first_and_push_now_skips_the_wait(
        rt: Runtime, tg: FakeTelegram) -> None:
    ids = burst(rt, 6)
    await Dispatcher(rt).run_once()
    assert posts(tg) == ["Berita 0"]

    [waiting] = await services.push(rt, ids[5], ["telegram"], by="cli")
    assert waiting.delivery.state == "pending" and posts(tg) == ["Berita 0"]
    time_passes(rt)
    await Dispatcher(rt).run_once()
    assert posts(tg) == ["Berita 0", "Berita 5"]  # the push went before 1..4

    [now] = await services.push(rt, ids[3], ["telegram"], by="cli", now=True)
    assert now.delivery.state == "sent"
    assert posts(tg) == ["Berita 0", "Berita 5", "Berita 3"]  # no wait for the spacing
    assert (await Dispatcher(rt).run_once()).sent == []  # the others still wait their turn
