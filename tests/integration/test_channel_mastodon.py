"""The Mastodon channel against a Mastodon double (a real HTTP server speaking Mastodon's REST
API): a status within the instance's limit, exactly once (Idempotency-Key on every status), the
image uploaded through /api/v2/media with its alt text, X-RateLimit-Reset honoured, a lost answer
unknown and then found by reconcile, the digest as one status, the token never in a log or an
error; check --online, preview --json; the uploaded images' ids forgotten in channel_kv once a
week old (at most once an hour, after a post), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.http_double import PNG
from fakes.mastodon_api import FakeMastodon, counted
from support.channel_kv_rows import age_rows, kv_rows, refuse_deletes
from support.channel_runs import add_articles, article_file, deliveries, make_due, open_runtime
from support.timeouts import ANSWERED, LATE, SILENT, silent

from distributor.articles import Article
from distributor.channels.mastodon.adapter import (
    MEDIA_RETENTION,
    MastodonChannel,
    MastodonConfig,
)
from distributor.config import SiteConfig, WebConfig
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.channel_state import StoredState
from distributor.plugin import (
    AmbiguousError,
    ChannelError,
    PermanentError,
    RenderContext,
    TransientError,
)
from distributor.plugin.testing import memory_env, send_context
from distributor.render import Templates
from distributor.store import Store, open_store

Run = Callable[..., subprocess.CompletedProcess[str]]
SITE = SiteConfig(name="RI News Portal", url="https://rinews.example", language="id")
LONG = Article(source="t", key="long", url="https://rinews.example/berita/" + "panjang-" * 20,
               title="Pemerintah umumkan rencana besar untuk transportasi publik di Jakarta",
               lede=("Pemerintah provinsi mengumumkan rencana pembangunan jalur kereta baru "
                     "yang menghubungkan pusat kota dengan bandara, kata gubernur pada Senin. ")
               * 6)


@pytest.fixture
def masto() -> Iterator[FakeMastodon]:
    with FakeMastodon() as double:
        double.files["/img/banjir.png"] = (PNG, "image/png")
        yield double


@pytest.fixture
def config(write_config: Callable[..., Path], masto: FakeMastodon) -> Path:
    return write_config(f"""\
        channels:
          - name: masto
            type: mastodon
            instance: {masto.url}
            access_token: "{masto.token}"
            timeout: {ANSWERED}
            rate_per_minute: 6000
          - name: masto-morning
            type: mastodon
            instance: {masto.url}
            access_token: "{masto.token}"
            publish: digest
            schedule: "0 6 * * *"
        """)


def channel(masto: FakeMastodon, timeout: float = ANSWERED, **extra: object) -> MastodonChannel:
    adapter = MastodonChannel(MastodonConfig(name="masto", instance=masto.url,
                                             access_token=masto.token, timeout=timeout,
                                             **extra))
    adapter.setup(memory_env("masto"))
    return adapter


def render(adapter: MastodonChannel, article: Article) -> list[dict[str, object]]:
    ctx = RenderContext(site=SITE, channel=adapter.config, web=WebConfig(),
                        templates=Templates())
    return adapter.render(article, ctx)


def test_push_posts_headline_lede_and_link_once_with_an_idempotency_key(
        config: Path, masto: FakeMastodon, run_cli: Run, tmp_path: Path) -> None:
    article = article_file(tmp_path)
    result = run_cli("--config", config, "push", article, "--channel", "masto")
    assert result.returncode == 0, result.stderr
    [status] = masto.statuses
    assert status.text == ("Banjir Semarang surut\n\nAir mulai surut pada Selasa pagi, kata "
                           "petugas BPBD. Warga mulai membersihkan rumah mereka.\n\n"
                           "https://rinews.example/berita/banjir-semarang-surut")
    assert status.visibility == "public"
    [post] = masto.seen("POST /api/v1/statuses")
    assert post.headers["idempotency-key"]
    assert run_cli("--config", config, "push", article, "--channel", "masto").returncode == 0
    assert len(masto.statuses) == 1 and len(masto.seen("POST /api/v1/statuses")) == 1


async def test_the_image_is_uploaded_with_its_alt_text_once_and_attached(
        masto: FakeMastodon) -> None:
    masto.processing_polls = 2  # the server processes it a while: the status waits for it
    adapter = channel(masto)
    # the double serves the image from this machine: the newsroom's own image host
    adapter.site = SITE.model_copy(update={"image_allow_hosts": ["127.0.0.1"]})
    message = {"status": "Banjir surut https://rinews.example/b", "visibility": "public",
               "image": f"{masto.url}/img/banjir.png", "image_alt": "Banjir Semarang surut"}
    ctx = send_context("masto")
    masto.fail_next(503, {"error": "busy"}, match="POST /api/v1/statuses")
    with pytest.raises(TransientError):
        await adapter.send(message, ctx)
    remote = await adapter.send(message, send_context("masto", state=ctx.state,
                                                      idempotency_key=ctx.idempotency_key))
    [status] = masto.statuses
    assert status.id == remote
    [media] = status.media
    assert media.data == PNG and media.description == "Banjir Semarang surut"
    assert len(masto.seen("POST /api/v2/media")) == 1  # the retry did not upload it again


async def test_a_retry_after_a_lost_success_answers_the_same_status_never_a_second(
        masto: FakeMastodon) -> None:
    adapter = channel(masto)
    ctx = send_context("masto")
    masto.fail_next(502, "bad gateway", match="POST /api/v1/statuses", happen=True)
    with pytest.raises(TransientError):
        await adapter.send({"status": "Satu kali saja"}, ctx)
    again = await adapter.send({"status": "Satu kali saja"}, ctx)
    assert [s.id for s in masto.statuses] == [again]


async def test_a_rate_limit_waits_until_x_ratelimit_reset(masto: FakeMastodon) -> None:
    masto.rate_limit(reset_in=120)
    with pytest.raises(TransientError) as caught:
        await channel(masto).send({"status": "x"}, send_context("masto"))
    assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 120
    assert caught.value.channel_wide and masto.statuses == []


async def test_the_status_fits_the_limit_the_instance_gives(masto: FakeMastodon) -> None:
    adapter = channel(masto)
    [default] = render(adapter, LONG)
    first = str(default["status"])
    assert counted(first) <= 500 and first.endswith(LONG.url)
    masto.max_characters = 300
    assert "up to 300 characters" in await adapter.check_online()
    [message] = render(adapter, LONG)
    text = str(message["status"])
    assert counted(text) <= 300 and text.endswith(LONG.url) and len(text) < len(first)
    await adapter.send(message, send_context("masto"))
    assert [s.text for s in masto.statuses] == [text]


async def test_a_lost_answer_is_unknown_then_found_by_reconcile_never_posted_twice(
        config: Path, masto: FakeMastodon) -> None:
    rt = open_runtime(silent(config))
    try:
        add_articles(rt, 1)
        masto.no_answer(match="POST /api/v1/statuses", sleep=LATE)
        await Dispatcher(rt).run_once()
        [delivery] = deliveries(rt, "masto")
        assert delivery.state == "unknown"
        assert "may have been posted" in (delivery.last_error or "")
        make_due(rt)
        await Dispatcher(rt).run_once()  # the core reconciles recent unknown deliveries
        [delivery] = deliveries(rt, "masto")
    finally:
        await rt.close()
    [status] = masto.statuses
    assert delivery.state == "sent" and delivery.remote_id == status.id
    assert len(masto.seen("POST /api/v1/statuses")) == 1


async def test_reconcile_finds_nothing_when_the_status_was_not_posted(
        masto: FakeMastodon) -> None:
    masto.publish("Another status https://rinews.example/other")
    assert await channel(masto).reconcile([{"status": "Not posted"}], []) is None


async def test_a_revoked_token_pauses_the_channel_and_is_never_logged(
        masto: FakeMastodon, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = MastodonChannel(MastodonConfig(name="masto", instance=masto.url,
                                           access_token="wrong-token-abcdef"))
    with pytest.raises(PermanentError) as caught:
        await wrong.send({"status": "x"}, send_context("masto"))
    assert caught.value.pause_channel and "access token" in caught.value.message
    adapter = channel(masto, timeout=SILENT)
    errors: list[ChannelError] = []
    await adapter.send({"status": "ok"}, send_context("masto"))
    masto.fail_next(422, {"error": f"bad {masto.token}"}, match="POST /api/v1/statuses")
    masto.no_answer(match="POST /api/v1/statuses", sleep=LATE)
    for _ in range(2):
        try:
            await adapter.send({"status": "x"}, send_context("masto"))
        except ChannelError as exc:
            errors.append(exc)
    assert [type(e) for e in errors] == [PermanentError, AmbiguousError]
    assert "HTTP Request" in caplog.text
    for text in [caplog.text, *(e.message for e in errors)]:
        assert masto.token not in text


def test_preview_json_shows_the_status(config: Path, run_cli: Run, tmp_path: Path) -> None:
    result = run_cli("--config", config, "preview", article_file(tmp_path),
                     "--channel", "masto", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["type"] == "mastodon"
    [message] = data["messages"]
    assert message["status"].endswith(data["article"]["url"])
    assert message["image"] == "https://rinews.example/img/banjir.jpg"
    assert message["image_alt"] == "Banjir Semarang surut"


def test_digest_send_posts_one_status_listing_every_article_once(
        config: Path, masto: FakeMastodon, run_cli: Run) -> None:
    rt = open_runtime(config)
    try:
        add_articles(rt, 3)
    finally:
        rt.store.dispose()
    result = run_cli("--config", config, "digest", "send", "--channel", "masto-morning")
    assert result.returncode == 0, result.stderr
    [status] = masto.statuses
    assert status.text.startswith("RI News Portal, ")
    for i in range(3):
        assert f"• Berita {i}: banjir surut di Semarang\nhttps://rinews.example/berita/{i}" \
            in status.text
    assert run_cli("--config", config, "digest", "send", "--channel", "masto-morning"
                   ).returncode == 0
    assert len(masto.statuses) == 1


# ------------------------------------------------------------- per-status state in channel_kv
DAY = timedelta(days=1)


@pytest.fixture
def kv(db_url: str) -> Iterator[Store]:
    """The core's store (a real SQLite file, then the real PostgreSQL)."""
    store = open_store(db_url)
    yield store
    store.dispose()


def stored_channel(masto: FakeMastodon, store: Store) -> tuple[MastodonChannel, StoredState]:
    """The channel as the runtime sets it up: its state the rows of channel_kv (a new
    object is what another process, or a restart, has)."""
    state = StoredState(store, "masto")
    adapter = channel(masto)
    adapter.setup(memory_env("masto", state=state))
    adapter.site = SITE.model_copy(update={"image_allow_hosts": ["127.0.0.1"]})
    return adapter, state


async def test_a_post_forgets_image_ids_older_than_a_week_and_keeps_the_rest(
        masto: FakeMastodon, kv: Store) -> None:
    adapter, state = stored_channel(masto, kv)
    await adapter.check_online()  # instance and account: kept for good
    state.put("media:d1-0", "101")
    state.put("media:d2-0", "102")
    state.put("url:109", f"{masto.url}/@rinews/109")  # the first release wrote one a status
    state.put("url:110", f"{masto.url}/@rinews/110")
    age_rows(kv, "masto", 400 * DAY, "instance", "account")
    age_rows(kv, "masto", MEDIA_RETENTION + DAY, "media:d1-0", "url:109")
    age_rows(kv, "masto", MEDIA_RETENTION - DAY, "media:d2-0", "url:110")
    assert sorted(kv_rows(kv, "masto")) == ["account", "instance", "media:d1-0", "media:d2-0",
                                            "url:109", "url:110"]

    remote = await adapter.send({"status": "Banjir surut"}, send_context("masto", state=state))

    assert [s.id for s in masto.statuses] == [remote]
    rows = kv_rows(kv, "masto")
    assert sorted(rows) == ["account", "instance", "media:d2-0", "url:110"]
    assert rows["media:d2-0"] == "102" and rows["instance"]["max_characters"] == 500


async def test_a_retry_inside_the_week_reuses_its_image_and_an_older_one_uploads_again(
        masto: FakeMastodon, kv: Store) -> None:
    adapter, state = stored_channel(masto, kv)
    message = {"status": "Banjir surut https://rinews.example/b", "visibility": "public",
               "image": f"{masto.url}/img/banjir.png", "image_alt": "Banjir Semarang surut"}
    young, old = send_context("masto", state=state), send_context("masto", state=state)
    for ctx in (young, old):  # uploaded, then the status refused for now
        masto.fail_next(503, {"error": "busy"}, match="POST /api/v1/statuses")
        with pytest.raises(TransientError):
            await adapter.send(message, ctx)
    age_rows(kv, "masto", MEDIA_RETENTION - DAY, f"media:{young.idempotency_key}")
    age_rows(kv, "masto", MEDIA_RETENTION + DAY, f"media:{old.idempotency_key}")
    await adapter.send({"status": "Berita lain"}, send_context("masto", state=state))
    assert f"media:{old.idempotency_key}" not in kv_rows(kv, "masto")

    for ctx in (young, old):  # the retries
        await adapter.send(message, send_context("masto", state=state,
                                                 idempotency_key=ctx.idempotency_key))
    assert len(masto.seen("POST /api/v2/media")) == 3  # the younger one was not uploaded again
    assert [len(s.media) for s in masto.statuses] == [0, 1, 1]
    assert masto.statuses[1].media[0].id == kv_rows(kv, "masto")[
        f"media:{young.idempotency_key}"]


async def test_old_ids_are_forgotten_at_most_once_an_hour_per_channel_and_process(
        masto: FakeMastodon, kv: Store) -> None:
    adapter, state = stored_channel(masto, kv)
    await adapter.send({"status": "satu"}, send_context("masto", state=state))
    state.put("media:d1-0", "101")
    age_rows(kv, "masto", MEDIA_RETENTION + DAY, "media:d1-0")
    await adapter.send({"status": "dua"}, send_context("masto", state=state))
    assert "media:d1-0" in kv_rows(kv, "masto")  # not on every post
    restarted, state = stored_channel(masto, kv)
    await restarted.send({"status": "tiga"}, send_context("masto", state=state))
    assert "media:d1-0" not in kv_rows(kv, "masto")


async def test_a_store_that_refuses_to_forget_fails_no_post_and_says_so_in_one_line(
        masto: FakeMastodon, kv: Store, caplog: pytest.LogCaptureFixture) -> None:
    adapter, state = stored_channel(masto, kv)
    state.put("media:d1-0", "101")
    age_rows(kv, "masto", MEDIA_RETENTION + DAY, "media:d1-0")
    refuse_deletes(kv)
    caplog.set_level(logging.INFO)
    remote = await adapter.send({"status": "tetap terbit"}, send_context("masto", state=state))
    assert [s.id for s in masto.statuses] == [remote]
    assert "media:d1-0" in kv_rows(kv, "masto")
    [line] = [r for r in caplog.records if "could not forget" in r.getMessage()]
    assert line.levelno == logging.WARNING and "refused here" in line.getMessage()
    assert "\n" not in line.getMessage()
