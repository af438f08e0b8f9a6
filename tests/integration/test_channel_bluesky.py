"""The Bluesky channel (through the atproto SDK) against a PDS double (a real HTTP server
speaking XRPC): a post of at most 300 graphemes with the link as a facet at exact UTF-8 byte
offsets and a link card with its thumbnail uploaded as a blob; exactly once (a record key given
before the first attempt, looked up before a retry); ratelimit-reset honoured; an expired
session made again; the app password and tokens never in a log or an error; the digest;
check --online, preview --json; a post's record key and CID forgotten in channel_kv once 90
days old (at most once an hour, after a post), a younger post still replied to and reconciled,
on SQLite and PostgreSQL; a reply under a post whose CID was forgotten still in its thread.
Retract and correct: every part deleted once with deleteRecord, the last first, a post deleted
already recorded as gone; a correction is one reply "Ralat: <note> <link>" under the last
part (the link a facet, root and parent strong refs), never posted twice (a retry after a lost
answer finds it by its record key), in the thread also when the state forgot the CIDs; both
through `distributor retract` / `correct`."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.bluesky_api import FakeBluesky, graphemes
from fakes.http_double import PNG
from support.channel_kv_rows import age_rows, kv_rows, refuse_deletes
from support.channel_runs import add_articles, article_file, deliveries, make_due, open_runtime
from support.timeouts import ANSWERED, LATE, SILENT, silent

from distributor.articles import Article
from distributor.channels.bluesky.adapter import (
    POST_STATE_RETENTION,
    BlueskyChannel,
    BlueskyConfig,
)
from distributor.config import SiteConfig, WebConfig
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.channel_state import StoredState
from distributor.plugin import (
    ActionContext,
    AmbiguousError,
    ChannelError,
    ChannelLog,
    MemoryState,
    PermanentError,
    RenderContext,
    StateStore,
    TransientError,
)
from distributor.plugin.testing import memory_env, send_context
from distributor.render import Templates
from distributor.store import Store, open_store

Run = Callable[..., subprocess.CompletedProcess[str]]
SITE = SiteConfig(name="RI News Portal", url="https://rinews.example", language="id")


@pytest.fixture
def bsky() -> Iterator[FakeBluesky]:
    with FakeBluesky() as double:
        double.files["/img/banjir.png"] = (PNG, "image/png")
        yield double


@pytest.fixture
def config(write_config: Callable[..., Path], bsky: FakeBluesky) -> Path:
    return write_config(f"""\
        channels:
          - name: bsky
            type: bluesky
            handle: {bsky.handle}
            app_password: "{bsky.password}"
            service: {bsky.url}
            timeout: {ANSWERED}
            rate_per_minute: 6000
          - name: bsky-morning
            type: bluesky
            handle: {bsky.handle}
            app_password: "{bsky.password}"
            service: {bsky.url}
            publish: digest
            schedule: "0 6 * * *"
        """)


def channel(bsky: FakeBluesky, timeout: float = ANSWERED, **extra: object) -> BlueskyChannel:
    adapter = BlueskyChannel(BlueskyConfig(name="bsky", handle=bsky.handle,
                                           app_password=bsky.password, service=bsky.url,
                                           timeout=timeout, **extra))
    adapter.setup(memory_env("bsky"))
    return adapter


def render_context(adapter: BlueskyChannel) -> RenderContext:
    return RenderContext(site=SITE, channel=adapter.config, web=WebConfig(),
                         templates=Templates())


def render(adapter: BlueskyChannel, article: Article) -> dict[str, object]:
    [message] = adapter.render(article, render_context(adapter))
    return message


def test_push_posts_text_link_facet_and_card_exactly_once(
        config: Path, bsky: FakeBluesky, run_cli: Run, tmp_path: Path) -> None:
    article = article_file(tmp_path)
    result = run_cli("--config", config, "push", article, "--channel", "bsky")
    assert result.returncode == 0, result.stderr
    [post] = bsky.posts
    url = "https://rinews.example/berita/banjir-semarang-surut"
    assert post.text == ("Banjir Semarang surut\n\nAir mulai surut pada Selasa pagi, kata "
                         "petugas BPBD. Warga mulai membersihkan rumah mereka.\n\n"
                         "rinews.example/berita/banjir-se…")
    assert post.linked() == [("rinews.example/berita/banjir-se…", url)]
    card = post.record["embed"]["external"]
    assert card["uri"] == url and card["title"] == "Banjir Semarang surut"
    assert card["description"].startswith("Air mulai surut")
    assert post.record["langs"] == ["id"]
    assert run_cli("--config", config, "push", article, "--channel", "bsky").returncode == 0
    assert len(bsky.posts) == 1 and len(bsky.seen("POST /xrpc/com.atproto.repo.createRecord")) == 1
    rt = open_runtime(config)
    try:
        [delivery] = deliveries(rt, "bsky")
        assert delivery.remote_id == post.uri
    finally:
        rt.store.dispose()


async def test_the_facet_covers_the_link_at_exact_utf8_byte_offsets(bsky: FakeBluesky) -> None:
    adapter = channel(bsky)
    # the double serves the image from this machine: the newsroom's own image host
    adapter.site = SITE.model_copy(update={"image_allow_hosts": ["127.0.0.1"]})
    article = Article(source="t", key="k", url="https://rinews.example/berita/café-ünïcode",
                      title="Harga kopi naik 🚀☕ di Jakarta — kata pedagang",
                      lede="Pedagang “kopi” di Jakarta menaikkan harga 3,5 persen. 👨‍👩‍👧 Warga "
                           "mengeluh.", image=f"{bsky.url}/img/banjir.png")
    message = render(adapter, article)
    await adapter.send(message, send_context("bsky"))
    [post] = bsky.posts
    [(shown, link)] = post.linked()
    assert link == article.url and post.text.endswith(shown)
    assert shown.startswith("rinews.example/berita/caf")
    thumb = post.record["embed"]["external"]["thumb"]
    assert bsky.blobs[thumb["ref"]["$link"]] == (PNG, "image/png")


async def test_the_post_itself_is_the_request_reported_for_pacing_after_its_image(
        bsky: FakeBluesky) -> None:
    """The core paces the next post from the request the channel reports (plugin API 1.3):
    the post's own createRecord, not the login or the image upload before it."""
    adapter = channel(bsky)
    adapter.site = SITE.model_copy(update={"image_allow_hosts": ["127.0.0.1"]})
    article = Article(source="t", key="k", url="https://rinews.example/berita/banjir",
                      title="Banjir Semarang surut", lede="Air mulai surut pada Selasa pagi.",
                      image=f"{bsky.url}/img/banjir.png")
    seen_then: list[tuple[int, int]] = []

    def reported(_at: object) -> None:  # what the double had received at that moment
        seen_then.append((len(bsky.seen("POST /xrpc/com.atproto.repo.uploadBlob")),
                          len(bsky.seen("POST /xrpc/com.atproto.repo.createRecord"))))

    await adapter.send(render(adapter, article), send_context("bsky", on_request=reported))

    assert seen_then == [(1, 0)] and len(bsky.posts) == 1


async def test_a_long_article_holds_in_300_graphemes(bsky: FakeBluesky) -> None:
    adapter = channel(bsky)
    article = Article(source="t", key="k", url="https://rinews.example/" + "x" * 200,
                      title="Judul yang sangat panjang sekali " * 8,
                      lede="Kalimat pertama yang panjang sekali tentang banyak hal. " * 12)
    message = render(adapter, article)
    text = str(message["text"])
    assert graphemes(text) <= 300 and text.startswith("Judul")
    await adapter.send(message, send_context("bsky"))
    assert len(bsky.posts) == 1


async def test_a_retry_after_a_lost_answer_finds_the_post_by_its_record_key(
        bsky: FakeBluesky) -> None:
    adapter = channel(bsky, timeout=SILENT)
    ctx = send_context("bsky")
    bsky.no_answer(match="createRecord", sleep=LATE)
    with pytest.raises(AmbiguousError):
        await adapter.send({"text": "Satu kali saja"}, ctx)
    again = await adapter.send({"text": "Satu kali saja"}, ctx)  # same key, same state
    assert [p.uri for p in bsky.posts] == [again]
    assert len(bsky.seen("POST /xrpc/com.atproto.repo.createRecord")) == 1


async def test_a_lost_answer_is_unknown_then_reconciled_never_posted_twice(
        config: Path, bsky: FakeBluesky) -> None:
    rt = open_runtime(silent(config))
    try:
        add_articles(rt, 1)
        bsky.no_answer(match="createRecord", sleep=LATE)
        await Dispatcher(rt).run_once()
        [delivery] = deliveries(rt, "bsky")
        assert delivery.state == "unknown"
        make_due(rt)
        await Dispatcher(rt).run_once()
        [delivery] = deliveries(rt, "bsky")
    finally:
        await rt.close()
    [post] = bsky.posts
    assert delivery.state == "sent" and delivery.remote_id == post.uri


async def test_a_rate_limit_waits_until_ratelimit_reset(bsky: FakeBluesky) -> None:
    bsky.rate_limit(reset_in=300)
    with pytest.raises(TransientError) as caught:
        await channel(bsky).send({"text": "x"}, send_context("bsky"))
    assert caught.value.retry_after is not None and 290 < caught.value.retry_after <= 300
    assert caught.value.channel_wide and bsky.posts == []


async def test_an_expired_session_is_made_again_and_the_post_goes_out_once(
        bsky: FakeBluesky) -> None:
    adapter = channel(bsky)
    await adapter.send({"text": "pertama"}, send_context("bsky"))
    bsky.expire_sessions()
    await adapter.send({"text": "kedua"}, send_context("bsky"))
    assert [p.text for p in bsky.posts] == ["pertama", "kedua"] and bsky.sessions == 2


async def test_a_wrong_app_password_pauses_and_no_secret_is_ever_logged(
        bsky: FakeBluesky, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = BlueskyChannel(BlueskyConfig(name="bsky", handle=bsky.handle,
                                         app_password="wrong-pass-word", service=bsky.url))
    with pytest.raises(PermanentError) as caught:
        await wrong.send({"text": "x"}, send_context("bsky"))
    assert caught.value.pause_channel and "app password" in caught.value.message
    adapter = channel(bsky, timeout=SILENT)
    errors: list[ChannelError] = []
    await adapter.send({"text": "ok"}, send_context("bsky"))
    bsky.no_answer(match="createRecord", sleep=LATE)
    try:
        await adapter.send({"text": "x"}, send_context("bsky"))
    except ChannelError as exc:
        errors.append(exc)
    assert [type(e) for e in errors] == [AmbiguousError] and bsky.issued
    assert "HTTP Request" in caplog.text
    for text in [caplog.text, *(e.message for e in errors)]:
        assert bsky.password not in text and "wrong-pass-word" not in text
        assert not any(token in text for token in bsky.issued)


async def test_check_online_logs_in(bsky: FakeBluesky) -> None:
    assert bsky.did in await channel(bsky).check_online()


def test_preview_json_shows_the_post_with_its_facet(
        config: Path, run_cli: Run, tmp_path: Path) -> None:
    result = run_cli("--config", config, "preview", article_file(tmp_path),
                     "--channel", "bsky", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    [message] = data["messages"]
    assert data["type"] == "bluesky"
    assert message["facets"][0]["features"][0]["uri"] == data["article"]["url"]
    assert message["embed"]["thumb"] == "https://rinews.example/img/banjir.jpg"


def test_digest_send_posts_the_headlines_each_a_link_once(
        config: Path, bsky: FakeBluesky, run_cli: Run) -> None:
    rt = open_runtime(config)
    try:
        add_articles(rt, 3)
    finally:
        rt.store.dispose()
    result = run_cli("--config", config, "digest", "send", "--channel", "bsky-morning")
    assert result.returncode == 0, result.stderr
    [post] = bsky.posts
    assert post.text.startswith("RI News Portal, ")
    assert post.linked() == [(f"Berita {i}: banjir surut di Semarang",
                              f"https://rinews.example/berita/{i}") for i in range(3)]
    assert run_cli("--config", config, "digest", "send", "--channel", "bsky-morning"
                   ).returncode == 0
    assert len(bsky.posts) == 1


async def test_a_long_digest_is_a_thread_of_replies(bsky: FakeBluesky) -> None:
    from distributor.plugin.testing import digest_context

    adapter = channel(bsky)
    articles = [Article(source="t", key=f"k{i}", url=f"https://rinews.example/b/{i}",
                        title=f"Berita nomor {i} tentang banjir yang surut di Semarang")
                for i in range(12)]
    ctx = RenderContext(site=SITE, channel=adapter.config, web=WebConfig(),
                        templates=Templates())
    messages = adapter.render_digest(articles, ctx)
    assert len(messages) > 1
    dctx = digest_context("bsky", articles)
    await adapter.send_digest(messages, dctx)
    root = bsky.posts[0]
    assert all(p.record["reply"]["root"]["uri"] == root.uri for p in bsky.posts[1:])
    linked = [link for p in bsky.posts for _, link in p.linked()]
    assert linked == [a.url for a in articles]


# ---------------------------------------------------------------- per-post state in channel_kv
DAY = timedelta(days=1)


@pytest.fixture
def kv(db_url: str) -> Iterator[Store]:
    """The core's store (a real SQLite file, then the real PostgreSQL)."""
    store = open_store(db_url)
    yield store
    store.dispose()


def stored_channel(bsky: FakeBluesky, store: Store) -> tuple[BlueskyChannel, StoredState]:
    """The channel as the runtime sets it up: its state the rows of channel_kv (a new
    object is what another process, or a restart, has)."""
    state = StoredState(store, "bsky")
    adapter = channel(bsky)
    adapter.setup(memory_env("bsky", state=state))
    return adapter, state


async def test_a_post_forgets_record_keys_and_cids_older_than_90_days_and_keeps_the_rest(
        bsky: FakeBluesky, kv: Store) -> None:
    adapter, state = stored_channel(bsky, kv)
    old = ["rkey:d1-0", "post:" + "a" * 40, "cid:at://did:plc:x/app.bsky.feed.post/3old"]
    young = ["rkey:d2-0", "post:" + "b" * 40, "cid:at://did:plc:x/app.bsky.feed.post/3new"]
    for key in [*old, *young, "settings"]:
        state.put(key, "kept" if key in young else "x")
    age_rows(kv, "bsky", POST_STATE_RETENTION + DAY, *old, "settings")  # of no family: stays
    age_rows(kv, "bsky", POST_STATE_RETENTION - DAY, *young)

    ctx = send_context("bsky", state=state)
    uri = await adapter.send({"text": "Banjir surut"}, ctx)

    [post] = bsky.posts
    rows = kv_rows(kv, "bsky")
    assert not set(old) & set(rows)
    assert {key: rows[key] for key in young} == dict.fromkeys(young, "kept")
    assert rows["settings"] == "x"
    assert rows[f"cid:{uri}"] == post.cid and rows[f"rkey:{ctx.idempotency_key}"] == post.rkey
    assert len(rows) == len(young) + 4  # + settings, this post's rkey:, post: and cid:


async def test_a_post_inside_the_retention_is_still_replied_to_and_reconciled(
        bsky: FakeBluesky, kv: Store) -> None:
    first, state = stored_channel(bsky, kv)
    root = await first.send({"text": "Utas banjir 1/2"}, send_context("bsky", state=state))
    age_rows(kv, "bsky", POST_STATE_RETENTION - DAY)  # all of the root's keys
    later, state = stored_channel(bsky, kv)  # a restart: forgets after its first post
    await later.send({"text": "Berita lain"}, send_context("bsky", state=state))
    reply = await later.send({"text": "Utas banjir 2/2"},
                             send_context("bsky", state=state, remote_ids=[root]))
    assert [p.uri for p in bsky.posts] == [root, bsky.posts[1].uri, reply]
    refs = bsky.posts[2].record["reply"]
    assert refs["root"]["uri"] == refs["parent"]["uri"] == root
    assert refs["root"]["cid"] == bsky.posts[0].cid
    assert await later.reconcile([{"text": "Utas banjir 1/2"}], []) == root


async def test_old_keys_are_forgotten_at_most_once_an_hour_per_channel_and_process(
        bsky: FakeBluesky, kv: Store) -> None:
    adapter, state = stored_channel(bsky, kv)
    await adapter.send({"text": "satu"}, send_context("bsky", state=state))
    state.put("cid:at://did:plc:x/app.bsky.feed.post/3old", "bafyold")
    age_rows(kv, "bsky", POST_STATE_RETENTION + DAY, "cid:at://did:plc:x/app.bsky.feed.post/3old")
    await adapter.send({"text": "dua"}, send_context("bsky", state=state))
    assert "cid:at://did:plc:x/app.bsky.feed.post/3old" in kv_rows(kv, "bsky")  # not every post
    restarted, state = stored_channel(bsky, kv)
    await restarted.send({"text": "tiga"}, send_context("bsky", state=state))
    assert "cid:at://did:plc:x/app.bsky.feed.post/3old" not in kv_rows(kv, "bsky")


async def test_a_store_that_refuses_to_forget_fails_no_post_and_says_so_in_one_line(
        bsky: FakeBluesky, kv: Store, caplog: pytest.LogCaptureFixture) -> None:
    adapter, state = stored_channel(bsky, kv)
    state.put("rkey:d1-0", "3old")
    age_rows(kv, "bsky", POST_STATE_RETENTION + DAY, "rkey:d1-0")
    refuse_deletes(kv)
    caplog.set_level(logging.INFO)
    uri = await adapter.send({"text": "tetap terbit"}, send_context("bsky", state=state))
    assert [p.uri for p in bsky.posts] == [uri]
    assert "rkey:d1-0" in kv_rows(kv, "bsky")
    [line] = [r for r in caplog.records if "could not forget" in r.getMessage()]
    assert line.levelno == logging.WARNING and "refused here" in line.getMessage()
    assert "\n" not in line.getMessage()


# ---------------------------------------------------------------- retract and correct
CREATE = "POST /xrpc/com.atproto.repo.createRecord"
DELETE = "POST /xrpc/com.atproto.repo.deleteRecord"
GET = "GET /xrpc/com.atproto.repo.getRecord"
ARTICLE = Article(source="t", key="banjir", url="https://rinews.example/berita/banjir-semarang-surut",
                  title="Banjir Semarang surut", lede="Air mulai surut pada Selasa pagi.",
                  language="id")


def action(adapter: BlueskyChannel, kind: str, remote_ids: list[str], state: StateStore, *,
           action_id: int = 7, attempt: int = 1, done: dict[str, str] | None = None,
           note: str | None = None, interrupted: bool = False,
           told: list[object] | None = None) -> ActionContext:
    """The context the core gives ``retract`` / ``correct`` (engine/actions.py): a new
    idempotency key each attempt, the same action row."""
    return ActionContext(
        channel="bsky", idempotency_key=f"action-{kind}-{action_id}-{attempt}",
        log=ChannelLog("bsky", f"{kind} {action_id}"), state=state, attempt=attempt,
        delivery_id=1, parts=len(remote_ids), remote_ids=tuple(remote_ids), action=kind,
        action_id=action_id, reason="Ditarik redaksi" if kind == "retract" else None,
        note=note, article=ARTICLE, render=render_context(adapter), done=dict(done or {}),
        interrupted=interrupted, on_request=told.append if told is not None else None)


async def thread(adapter: BlueskyChannel, state: StateStore, *texts: str) -> list[str]:
    """The posts of one delivery, each replying to the one before."""
    uris: list[str] = []
    for text in texts:
        uris.append(await adapter.send({"text": text},
                                       send_context("bsky", state=state, remote_ids=uris,
                                                    delivery_id=1)))
    return uris


def rkey(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


async def test_a_retraction_deletes_every_part_once_last_first_and_again_changes_nothing(
        bsky: FakeBluesky) -> None:
    adapter, state = channel(bsky), MemoryState()
    uris = await thread(adapter, state, "Utas banjir 1/2", "Utas banjir 2/2")
    told: list[object] = []
    ctx = action(adapter, "retract", uris, state, told=told)

    await adapter.retract(uris, ctx)

    assert bsky.posts == [] and [p.uri for p in bsky.deleted] == uris[::-1]
    assert [r.json() for r in bsky.seen(DELETE)] == [
        {"repo": bsky.did, "collection": "app.bsky.feed.post", "rkey": rkey(u)}
        for u in reversed(uris)]
    assert ctx.done == dict.fromkeys(uris, "deleted") and len(told) == 2

    again = action(adapter, "retract", uris, state, attempt=2, done=ctx.done)
    await adapter.retract(uris, again)
    assert len(bsky.seen(DELETE)) == 2 and again.done == ctx.done


async def test_a_retraction_of_a_post_deleted_on_bluesky_already_records_it_as_gone(
        bsky: FakeBluesky) -> None:
    adapter, state = channel(bsky), MemoryState()
    uris = await thread(adapter, state, "Utas banjir 1/2", "Utas banjir 2/2")
    bsky.delete_by_hand(uris[1])
    ctx = action(adapter, "retract", uris, state)

    await adapter.retract(uris, ctx)

    assert ctx.done == {uris[1]: "gone", uris[0]: "deleted"}
    assert [p.uri for p in bsky.deleted] == [uris[0]] and bsky.posts == []
    assert [(r.json()["rkey"], r.status) for r in bsky.seen(DELETE)] == [
        (rkey(uris[1]), 200), (rkey(uris[0]), 200)]


async def test_a_retraction_never_deletes_in_another_account(bsky: FakeBluesky) -> None:
    adapter = channel(bsky)
    await adapter.send({"text": "milik kita"}, send_context("bsky"))
    other = f"at://did:plc:other/app.bsky.feed.post/{bsky.posts[0].rkey}"
    with pytest.raises(PermanentError, match="did:plc:other"):
        await adapter.retract([other], action(adapter, "retract", [other], MemoryState()))
    assert bsky.seen(DELETE) == [] and len(bsky.posts) == 1


async def test_a_correction_is_one_reply_under_the_post_with_the_note_and_the_link(
        bsky: FakeBluesky) -> None:
    adapter, state = channel(bsky), MemoryState()
    uri = await adapter.send(render(adapter, ARTICLE), send_context("bsky", state=state))
    [post] = bsky.posts
    told: list[object] = []
    ctx = action(adapter, "correct", [uri], state, note="pengungsi 1.200, bukan 12.000",
                 told=told)

    result = await adapter.correct([uri], [render(adapter, ARTICLE)], ctx)

    [reply] = bsky.replies_to(uri)
    shown = "rinews.example/berita/banjir-se…"
    assert reply.text == f"Ralat: pengungsi 1.200, bukan 12.000 {shown}"
    assert reply.linked() == [(shown, ARTICLE.url)]
    refs = reply.record["reply"]
    assert (refs["root"]["uri"], refs["root"]["cid"]) == (uri, post.cid)
    assert (refs["parent"]["uri"], refs["parent"]["cid"]) == (uri, post.cid)
    assert reply.record["langs"] == ["id"] and "embed" not in reply.record
    assert result == [uri, reply.uri] and ctx.done == {reply.uri: "replied"}
    assert len(told) == 1 and len(bsky.seen(CREATE)) == 2

    again = action(adapter, "correct", [uri], state, attempt=2, done=ctx.done,
                   note="pengungsi 1.200, bukan 12.000")
    assert await adapter.correct([uri], [], again) == result
    assert len(bsky.seen(CREATE)) == 2 and len(bsky.posts) == 2


async def test_a_correction_without_a_note_names_the_headline_and_a_long_note_is_cut(
        bsky: FakeBluesky) -> None:
    adapter, state = channel(bsky), MemoryState()
    uri = await adapter.send(render(adapter, ARTICLE), send_context("bsky", state=state))
    await adapter.correct([uri], [], action(adapter, "correct", [uri], state, action_id=1))
    await adapter.correct([uri], [], action(adapter, "correct", [uri], state, action_id=2,
                                            note="Jumlah korban keliru. " * 30))
    plain, long = bsky.replies_to(uri)
    assert plain.text == "Ralat: Banjir Semarang surut rinews.example/berita/banjir-se…"
    assert graphemes(long.text) <= 300 and long.text.startswith("Ralat: Jumlah korban keliru.")
    assert long.linked() == [("rinews.example/berita/banjir-se…", ARTICLE.url)]


async def test_a_correction_retried_after_a_lost_answer_is_found_never_posted_twice(
        bsky: FakeBluesky) -> None:
    adapter, state = channel(bsky, timeout=SILENT), MemoryState()
    uri = await adapter.send({"text": "Banjir surut"}, send_context("bsky", state=state))
    bsky.no_answer(match="createRecord", sleep=LATE)
    with pytest.raises(AmbiguousError):
        await adapter.correct([uri], [], action(adapter, "correct", [uri], state, note="ejaan"))
    [reply] = bsky.replies_to(uri)  # it was posted; the answer was lost

    restarted = channel(bsky)  # a killed process: only the state is left
    retry = action(restarted, "correct", [uri], state, attempt=2, note="ejaan",
                   interrupted=True)
    assert await restarted.correct([uri], [], retry) == [uri, reply.uri]

    assert retry.done == {reply.uri: "replied"} and len(bsky.replies_to(uri)) == 1
    assert len(bsky.seen(CREATE)) == 2  # the post and the one correction
    assert bsky.seen(GET)[-1].query["rkey"] == reply.rkey


async def test_a_correction_whose_cids_were_forgotten_still_replies_in_the_thread(
        bsky: FakeBluesky, kv: Store) -> None:
    first, state = stored_channel(bsky, kv)
    uris = await thread(first, state, "Utas banjir 1/2", "Utas banjir 2/2")
    root, last = bsky.posts
    age_rows(kv, "bsky", POST_STATE_RETENTION + DAY)  # the thread is older than 90 days
    assert state.prune("cid:", POST_STATE_RETENTION) == 2  # the two posts' CIDs
    assert not state.keys("cid:")

    later, state = stored_channel(bsky, kv)  # another process, months later
    ctx = action(later, "correct", uris, state, note="ejaan nama")
    await later.correct(uris, [], ctx)

    [reply] = bsky.replies_to(last.uri)
    refs = reply.record["reply"]
    assert (refs["root"]["uri"], refs["root"]["cid"]) == (root.uri, root.cid)
    assert (refs["parent"]["uri"], refs["parent"]["cid"]) == (last.uri, last.cid)
    assert [r.query["rkey"] for r in bsky.seen(GET)] == [last.rkey]
    assert kv_rows(kv, "bsky")[f"cid:{last.uri}"] == last.cid  # kept again


async def test_a_thread_part_whose_root_cid_was_forgotten_still_replies_in_the_thread(
        bsky: FakeBluesky) -> None:
    adapter, state = channel(bsky), MemoryState()
    [root] = await thread(adapter, state, "Utas 1/2")
    state.delete(f"cid:{root}")  # forgotten: older than the state keeps
    await adapter.send({"text": "Utas 2/2"}, send_context("bsky", state=state,
                                                          remote_ids=[root]))
    refs = bsky.posts[1].record["reply"]
    assert refs["root"] == refs["parent"] and refs["root"]["uri"] == root
    assert refs["root"]["cid"] == bsky.posts[0].cid


def test_retract_and_correct_through_the_cli_reach_bluesky_once(
        config: Path, bsky: FakeBluesky, run_cli: Run, tmp_path: Path) -> None:
    article = article_file(tmp_path)
    assert run_cli("--config", config, "push", article, "--channel", "bsky").returncode == 0
    [post] = bsky.posts

    corrected = run_cli("--config", config, "correct", article, "--note", "jam 07.00 WIB",
                        "--channel", "bsky")
    again = run_cli("--config", config, "correct", article, "--note", "jam 07.00 WIB",
                    "--channel", "bsky")

    assert corrected.returncode == 0, corrected.stderr
    [reply] = bsky.replies_to(post.uri)
    assert f"bsky: corrected ({reply.uri} " in corrected.stdout
    assert reply.text == "Ralat: jam 07.00 WIB rinews.example/berita/banjir-se…"
    assert again.returncode == 0 and "bsky: already corrected" in again.stdout
    assert len(bsky.seen(CREATE)) == 2

    retracted = run_cli("--config", config, "retract", article, "--reason", "Ditarik",
                        "--channel", "bsky")
    twice = run_cli("--config", config, "retract", article, "--reason", "Ditarik",
                    "--channel", "bsky")

    assert retracted.returncode == 0, retracted.stderr
    # the correction's reply goes too, before the post it answers
    assert f"bsky: retracted ({reply.uri} deleted, {post.uri} deleted)" in retracted.stdout
    assert twice.returncode == 0 and "bsky: already retracted" in twice.stdout
    assert [p.uri for p in bsky.deleted] == [reply.uri, post.uri]
    assert len(bsky.seen(DELETE)) == 2
