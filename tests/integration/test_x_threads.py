"""X threads end to end: articles in a real store, the real dispatcher and ledger, the X adapter
(tweepy, OAuth 1.0a) and a fake X API v2 server speaking real HTTP.

Issue 5, "Done when": three long articles pushed through a server that fails a middle part once
with 503 and answers 429 later come out as three correct threads, each post once, with no request
before a reset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.x_api import DUPLICATE, POST_TWEETS, USER_TWEETS, FakeX, Tweet
from sqlalchemy import select, update
from support.timeouts import ANSWERED, LATE, SILENT

from distributor.articles import Article
from distributor.channels.x.adapter import XAdapter
from distributor.configfile import load_config
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger import deliveries as delivery_module
from distributor.ledger.deliveries import request_delivery
from distributor.ledger.ingest import from_row, store_article
from distributor.runtime import Runtime
from distributor.store.models import (
    ArticleRow,
    ChannelState,
    Delivery,
    DeliveryEvent,
    DeliveryPart,
)

#: three long ledes: a 3-, a 2- and a 4-post thread (the link goes in the last post)
ARTICLES = [
    ("energi", "Rusia dan Indonesia perluas kerja sama energi",
     "https://rinews.example/berita/rusia-indonesia-perluas-kerja-sama-energi",
     "Pemerintah Rusia dan Indonesia sepakat memperluas kerja sama di bidang energi, termasuk "
     "pasokan minyak mentah, pembangunan kilang baru di Jawa Timur dan pengembangan pembangkit "
     "listrik tenaga nuklir skala kecil, kata Menteri Energi dan Sumber Daya Mineral usai "
     "bertemu mitranya di Moskow pada Selasa. Menurut dia, nilai investasi yang dibahas "
     "mencapai Rp 150 triliun dalam lima tahun ke depan, dan kedua negara akan membentuk "
     "kelompok kerja bersama sebelum akhir tahun untuk menyusun peta jalan dan skema "
     "pembiayaannya."),
    ("banjir", "Banjir rendam ribuan rumah di Kabupaten Bandung",
     "https://rinews.example/berita/banjir-rendam-ribuan-rumah-di-kabupaten-bandung",
     "Banjir setinggi satu hingga dua meter merendam sedikitnya 3.400 rumah di tujuh kecamatan "
     "di Kabupaten Bandung setelah hujan deras mengguyur kawasan hulu Sungai Citarum sejak "
     "Minggu malam, kata Badan Penanggulangan Bencana Daerah setempat. Ribuan warga mengungsi "
     "ke masjid, sekolah dan balai desa, sementara petugas gabungan mengerahkan perahu karet "
     "untuk mengevakuasi lansia dan anak-anak yang masih terjebak di lantai dua rumah mereka."),
    ("inflasi", "BI tahan suku bunga, inflasi terkendali",
     "https://rinews.example/berita/bi-tahan-suku-bunga-inflasi-terkendali",
     "Bank Indonesia mempertahankan suku bunga acuan di level 6 persen dalam rapat dewan "
     "gubernur bulan ini karena inflasi dinilai tetap terkendali dalam kisaran sasaran 2,5 plus "
     "minus 1 persen, sementara nilai tukar rupiah mulai stabil setelah sempat melemah ke "
     "Rp 16.400 per dolar AS pada awal bulan. Gubernur BI mengatakan bank sentral akan terus "
     "memantau dampak kebijakan moneter negara maju terhadap arus modal asing, memperkuat "
     "intervensi di pasar valas bila diperlukan, dan mendorong penyaluran kredit ke sektor "
     "usaha mikro, kecil dan menengah yang menyerap tenaga kerja paling banyak. Ekonom "
     "memperkirakan ruang penurunan suku bunga baru terbuka pada paruh kedua tahun depan, "
     "setelah tekanan global mereda dan defisit transaksi berjalan kembali menyempit."),
]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def fx() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """5xx backoff in tens of milliseconds instead of tens of seconds (rate-limit resets are
    honoured as they are: a retry never comes before its retry-after)."""
    monkeypatch.setattr(delivery_module, "BACKOFF_BASE", 0.05)


@pytest.fixture
def no_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No 2-second gap between two threads (the dispatcher's pacing is not what these test)."""
    monkeypatch.setattr(XAdapter, "rate_per_minute", None)


@pytest.fixture
async def make_rt(write_config: Callable[..., Path], tmp_path: Path,
                  fx: FakeX) -> AsyncIterator[Callable[..., Runtime]]:
    opened: list[Runtime] = []

    def make(**channel: Any) -> Runtime:
        """A runtime on one SQLite file whose x channel posts to the fake (a second call is
        a restarted process on the same store)."""
        keys = {**fx.credentials, "api_base_url": fx.url, "timeout": ANSWERED,
                **channel}
        lines = "".join(f"    {k}: {v if v is not None else 'null'}\n" for k, v in keys.items())
        path = write_config("channels:\n  - name: x\n    type: x\n" + lines,
                            database=f"sqlite:///{tmp_path / 'store.db'}")
        rt = Runtime.open(load_config(path))
        opened.append(rt)
        return rt

    yield make
    for rt in opened:
        await rt.close()


def add_articles(rt: Runtime, count: int = 3) -> list[int]:
    """The first ``count`` of ARTICLES, published a minute apart (in that order)."""
    now = datetime.now(UTC)
    ids = []
    with rt.store.session() as session:
        for i, (key, title, url, lede) in enumerate(ARTICLES[:count]):
            article = Article(source="newsroom", key=key, url=url, title=title, lede=lede,
                              dateline="Jakarta", language="id",
                              published=now - timedelta(minutes=10 - i))
            row, _ = store_article(session, article, now=now, max_age=timedelta(days=2))
            ids.append(row.id)
    return ids


def rendered(rt: Runtime, article_id: int) -> list[str]:
    """The thread the renderer makes for an article: what must appear on X, in order."""
    config = rt.config.channel("x")
    with rt.store.session() as session:
        article = from_row(session.get_one(ArticleRow, article_id))
    return [m["text"] for m in rt.adapter("x").render(article, rt.context(config))]


def ledger(rt: Runtime) -> dict[int, Delivery]:
    """article id -> its x delivery, parts and events loaded."""
    with rt.store.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.channel == "x")).all()
        for row in rows:
            _ = list(row.parts)
        session.expunge_all()
        return {d.article_id: d for d in rows}


def events(rt: Runtime, delivery_id: int) -> list[tuple[str, str]]:
    with rt.store.session() as session:
        return [(e.state, e.detail or "") for e in session.scalars(
            select(DeliveryEvent).where(DeliveryEvent.delivery_id == delivery_id)
            .order_by(DeliveryEvent.id))]


async def drive(rt: Runtime, passes: int = 6) -> None:
    """Dispatcher passes, a moment apart, until nothing is pending or waiting for a retry (or
    ``passes`` ran). A pass itself waits for what is due within a minute and a half."""
    for _ in range(passes):
        await Dispatcher(rt).run_once()
        if not {d.state for d in ledger(rt).values()} & {"pending", "retry"}:
            return
        await asyncio.sleep(0.1)


def make_due(rt: Runtime) -> None:
    """Let time pass: every waiting delivery and the channel are due again."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    with rt.store.session() as session:
        session.execute(update(Delivery).values(next_attempt_at=past))
        session.execute(update(ChannelState).values(next_send_at=past))


def thread_of(fx: FakeX, head_id: str) -> list[Tweet]:
    """The posts of the thread under ``head_id``, following the replies."""
    by_parent = {t.in_reply_to: t for t in fx.tweets if t.in_reply_to is not None}
    thread = [next(t for t in fx.tweets if t.id == head_id)]
    while thread[-1].id in by_parent:
        thread.append(by_parent[thread[-1].id])
    return thread


def assert_correct_threads(rt: Runtime, fx: FakeX, article_ids: list[int]) -> None:
    """Each article is one thread on X: its rendered texts in order, chained reply by reply,
    every post once, and the ledger holds every post's id."""
    deliveries = ledger(rt)
    expected_posts = 0
    for article_id in article_ids:
        texts = rendered(rt, article_id)
        expected_posts += len(texts)
        delivery = deliveries[article_id]
        assert delivery.state == "sent", (delivery.state, delivery.last_error)
        part_ids = [p.remote_id for p in delivery.parts]
        assert [p.idx for p in delivery.parts] == list(range(len(texts)))
        assert delivery.remote_id == part_ids[0]
        thread = thread_of(fx, part_ids[0])
        assert [t.text for t in thread] == texts
        assert [t.id for t in thread] == part_ids
        assert thread[0].in_reply_to is None
        assert [t.in_reply_to for t in thread[1:]] == part_ids[:-1]
    assert len(fx.tweets) == expected_posts  # each post once, nothing else
    assert len({t.text for t in fx.tweets}) == expected_posts
    assert sum(t.in_reply_to is None for t in fx.tweets) == len(article_ids)  # no second head


# --------------------------------------------------------------------------- done when


async def test_three_long_articles_become_three_threads_through_a_503_and_a_429(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    rt = make_rt()
    energi, banjir, inflasi = ids = add_articles(rt)
    sizes = [len(rendered(rt, i)) for i in ids]
    assert sizes == [3, 2, 4]  # long ledes: threads of 2 to 4 posts
    # the 2nd post (energi's middle part) fails once with 503; the 6th (banjir's 2nd part)
    # is refused with 429 and a reset a few seconds ahead
    fx.server_error(503, skip=1)
    fx.rate_limit(reset_in=2, skip=sizes[0] + 2)

    await drive(rt)

    assert_correct_threads(rt, fx, ids)
    posts = fx.posts_to(POST_TWEETS)
    assert [r.status for r in posts].count(503) == 1
    assert [r.status for r in posts].count(429) == 1
    assert len(posts) == sum(sizes) + 2
    failed_503 = next(i for i, r in enumerate(posts) if r.status == 503)
    assert failed_503 == 1 and posts[2].body == posts[1].body  # resumed at the failed part
    refused = next(i for i, r in enumerate(posts) if r.status == 429)
    reset = int(posts[refused].answer_headers["x-rate-limit-reset"])
    assert posts[refused].at < reset  # the 429 came before its reset ...
    later = fx.requests[fx.requests.index(posts[refused]) + 1:]
    assert later and all(r.at >= reset for r in later)  # ... and no request until the reset
    assert posts[refused + 1].body == posts[refused].body
    deliveries = ledger(rt)
    assert any(s == "retry" and "503" in d for s, d in events(rt, deliveries[energi].id))
    assert any(s == "retry" and "rate limit" in d for s, d in events(rt, deliveries[banjir].id))
    assert [s for s, _ in events(rt, deliveries[inflasi].id)] == ["sending", "sent"]
    # the threads came out in the articles' order
    heads = [int(deliveries[i].remote_id or 0) for i in ids]
    assert heads == sorted(heads)


# --------------------------------------------------------------------------- idempotency


async def test_a_repeated_push_posts_nothing(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    rt = make_rt(publish="manual")
    (article_id,) = add_articles(rt, 1)
    with rt.store.session() as session:
        delivery, what = request_delivery(session, article_id, "x", requested_by="editor")
        delivery_id = delivery.id
    assert what == "queued"
    await Dispatcher(rt).run_once(only=[delivery_id])
    assert_correct_threads(rt, fx, [article_id])
    requests_before = len(fx.requests)

    for _ in range(2):
        with rt.store.session() as session:
            _, what = request_delivery(session, article_id, "x", requested_by="editor")
        assert what == "already-sent"
        await Dispatcher(rt).run_once(only=[delivery_id])

    assert len(fx.requests) == requests_before
    assert_correct_threads(rt, fx, [article_id])


async def test_a_restarted_process_resumes_a_thread_where_it_broke(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    rt = make_rt()
    (article_id,) = add_articles(rt, 1)
    fx.server_error(503, skip=2, retry_after=600)  # the third part: X asks for 10 minutes
    await Dispatcher(rt).run_once()
    assert len(fx.tweets) == 2
    assert [p.remote_id for p in ledger(rt)[article_id].parts] == [t.id for t in fx.tweets]

    again = make_rt()  # a new process on the same store, ten minutes later
    make_due(again)
    await drive(again)

    assert_correct_threads(again, fx, [article_id])


# --------------------------------------------------------------------------- limits


async def test_the_daily_cap_defers_the_next_thread_and_keeps_the_order(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    rt = make_rt(max_posts_per_day=5)  # energi (3) + banjir (2) fill the day
    energi, banjir, inflasi = ids = add_articles(rt)

    await drive(rt, passes=2)
    make_due(rt)
    await Dispatcher(rt).run_once()

    assert_correct_threads(rt, fx, [energi, banjir])
    assert ledger(rt)[inflasi].state == "pending"
    assert len(fx.requests) == 5
    with rt.store.session() as session:  # a day passes
        session.execute(update(DeliveryPart).values(
            sent_at=datetime.now(UTC) - timedelta(days=1, seconds=1)))
    await drive(rt)
    assert_correct_threads(rt, fx, ids)
    assert int(fx.tweets[-4].id) > int(ledger(rt)[banjir].parts[-1].remote_id)


async def test_the_daily_cap_never_starts_a_thread_it_cannot_finish(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    rt = make_rt(max_posts_per_day=4)  # energi (3) leaves room for 1 post: banjir has 2
    energi, banjir = add_articles(rt, 2)

    await drive(rt, passes=2)

    assert_correct_threads(rt, fx, [energi])
    assert ledger(rt)[banjir].state == "pending" and len(fx.tweets) == 3


async def test_the_24_hour_limit_defers_further_posts_until_its_reset_keeping_order(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    fx.user_daily_limit = 4  # energi (3) and banjir's head; the answer says 0 remaining
    rt = make_rt()
    energi, banjir, inflasi = ids = add_articles(rt)

    await drive(rt, passes=3)

    assert len(fx.requests) == 4  # banjir's 2nd part was not even tried
    deliveries = ledger(rt)
    assert deliveries[energi].state == "sent"
    assert deliveries[banjir].state == "retry" and len(deliveries[banjir].parts) == 1
    assert deliveries[inflasi].state == "pending"
    with rt.store.session() as session:
        held = session.get_one(ChannelState, "x").next_send_at
    assert held is not None and held > datetime.now(UTC) + timedelta(hours=23)
    assert deliveries[banjir].next_attempt_at > datetime.now(UTC) + timedelta(hours=23)

    # the next day, after a restart: banjir finishes before inflasi starts
    fx.start_new_day()
    fx.user_daily_limit = None
    later = make_rt()
    make_due(later)
    await drive(later)

    assert_correct_threads(later, fx, ids)
    banjir_tail = ledger(later)[banjir].parts[-1].remote_id
    assert int(banjir_tail) < int(ledger(later)[inflasi].remote_id or 0)


async def test_an_allowance_used_up_by_the_last_post_holds_the_channel_for_every_process(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    fx.user_daily_limit = 3  # energi's thread uses it all; X says so in its last answer
    rt = make_rt()
    (energi,) = add_articles(rt, 1)
    await drive(rt)
    assert ledger(rt)[energi].state == "sent" and len(fx.requests) == 3
    with rt.store.session() as session:
        held = session.get_one(ChannelState, "x").next_send_at
    assert held is not None and held > datetime.now(UTC) + timedelta(hours=23)

    other = make_rt()  # another process (a worker elsewhere) never asked X: it holds too
    add_articles(other, 2)
    await Dispatcher(other).run_once()
    assert len(fx.requests) == 3
    assert {d.state for d in ledger(other).values()} == {"sent", "pending"}


# --------------------------------------------------------------------------- refusals


async def test_duplicate_content_is_permanent_and_recorded_as_such(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    rt = make_rt()
    (article_id,) = add_articles(rt, 1)
    fx.publish(rendered(rt, article_id)[0])  # an editor already posted the head by hand

    await Dispatcher(rt).run_once()
    make_due(rt)
    await Dispatcher(rt).run_once()

    delivery = ledger(rt)[article_id]
    assert delivery.state == "failed"
    assert delivery.last_error == f"X says duplicate content: {DUPLICATE}"
    assert events(rt, delivery.id)[-1] == ("failed", f"X says duplicate content: {DUPLICATE}")
    assert len(fx.posts_to(POST_TWEETS)) == 1 and len(fx.tweets) == 1
    assert fx.posts_to(USER_TWEETS) == []  # nothing suggested it could be our own


async def test_bad_credentials_pause_the_channel_with_one_clear_message(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None,
        caplog: pytest.LogCaptureFixture) -> None:
    rt = make_rt()
    add_articles(rt, 2)
    fx.unauthorized()
    caplog.set_level(logging.WARNING, logger="distributor")

    await Dispatcher(rt).run_once()
    make_due(rt)
    await Dispatcher(rt).run_once()

    assert len(fx.requests) == 1 and fx.tweets == []
    with rt.store.session() as session:
        reason = session.get_one(ChannelState, "x").paused_reason
    assert reason is not None and "\n" not in reason
    assert reason.startswith("X rejected the credentials; check the channel's consumer_key, "
                             "consumer_secret, access_token and access_token_secret in the "
                             "configuration")
    assert reason.endswith("X said: Unauthorized")
    assert all(secret not in caplog.text + reason for secret in fx.credentials.values())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        next(r.getMessage() for r in caplog.records if "channel paused" in r.getMessage())]
    assert sorted(d.state for d in ledger(rt).values()) == ["pending", "retry"]


async def test_a_part_without_an_answer_is_unknown_then_found_on_x_never_sent_again(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    rt = make_rt(timeout=SILENT)
    (article_id,) = add_articles(rt, 1)
    fx.no_answer(LATE, skip=1)  # the 2nd part reaches X, the answer never comes back in time

    report = await Dispatcher(rt).run_once()

    delivery = ledger(rt)[article_id]
    assert report.unknown == [delivery.id] and delivery.state == "unknown"
    assert "may have been published" in (delivery.last_error or "")
    assert [p.remote_id for p in delivery.parts] == [fx.tweets[0].id]

    for _ in range(2):  # later passes look for it on X's timeline and find it
        make_due(rt)
        await Dispatcher(rt).run_once()

    delivery = ledger(rt)[article_id]
    assert delivery.state == "sent"
    # each part posted once: the one without an answer was found, not posted again
    assert len(fx.posts_to(POST_TWEETS)) == len(delivery.messages or []) == len(fx.tweets) > 2
    assert [p.remote_id for p in delivery.parts] == [t.id for t in fx.tweets]


# --------------------------------------------------------------------------- X published it anyway


@pytest.mark.parametrize("part", [0, 1], ids=["head", "middle part"])
async def test_a_part_x_published_despite_a_503_is_found_not_posted_twice(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None, part: int) -> None:
    rt = make_rt()
    (article_id,) = add_articles(rt, 1)
    fx.server_error(503, skip=part, posted=True)

    await drive(rt)

    assert_correct_threads(rt, fx, [article_id])
    statuses = [r.status for r in fx.posts_to(POST_TWEETS)]
    assert statuses[part:part + 2] == [503, 403]  # the retry was refused as a duplicate ...
    assert len(fx.posts_to(USER_TWEETS)) >= 1  # ... so the adapter looked the post up


# --------------------------------------------------------------------------- reconciliation


def left_sending(rt: Runtime, article_id: int, parts: list[str]) -> None:
    """As a process that died while sending leaves a delivery: ``sending``, a dead owner, the
    rendered messages and the parts it recorded."""
    messages = [{"text": t} for t in rendered(rt, article_id)]
    now = datetime.now(UTC)
    with rt.store.session() as session:
        delivery = Delivery(article_id=article_id, channel="x", state="sending", attempts=1,
                            next_attempt_at=now, messages=messages,
                            lease_owner="elsewhere:1:dead", lease_until=now - timedelta(seconds=1))
        session.add(delivery)
        session.flush()
        for idx, remote_id in enumerate(parts):
            session.add(DeliveryPart(delivery_id=delivery.id, idx=idx, remote_id=remote_id))


async def test_a_post_a_dead_process_sent_is_reconciled_to_sent(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    rt = make_rt(max_posts=1)  # one-post "threads"
    (article_id,) = add_articles(rt, 1)
    (text,) = rendered(rt, article_id)
    posted = fx.publish(text)  # X has it; the process died before recording it
    left_sending(rt, article_id, [])

    report = await Dispatcher(rt).run_once()

    delivery = ledger(rt)[article_id]
    assert report.sent == [delivery.id] and delivery.state == "sent"
    assert delivery.remote_id == posted.id
    assert fx.posts_to(POST_TWEETS) == []


async def test_a_post_a_dead_process_did_not_send_stays_unknown(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    rt = make_rt()
    (article_id,) = add_articles(rt, 1)
    head = fx.publish(rendered(rt, article_id)[0])
    left_sending(rt, article_id, [head.id])  # died while sending the 2nd part, X has nothing

    await Dispatcher(rt).run_once()

    assert ledger(rt)[article_id].state == "unknown"
    assert fx.posts_to(POST_TWEETS) == [] and len(fx.posts_to(USER_TWEETS)) >= 1


async def test_a_thread_a_dead_process_broke_is_reconciled_and_finished(
        make_rt: Callable[..., Runtime], fx: FakeX, no_pacing: None) -> None:
    rt = make_rt()
    (article_id,) = add_articles(rt, 1)
    texts = rendered(rt, article_id)
    head = fx.publish(texts[0])
    fx.publish(texts[1], in_reply_to=head.id)  # X has part 2; the process died before noting it
    left_sending(rt, article_id, [head.id])

    await drive(rt)

    assert_correct_threads(rt, fx, [article_id])
