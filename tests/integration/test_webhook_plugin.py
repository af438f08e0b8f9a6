"""The out-of-tree webhook plugin (examples/plugins/distributor-webhook), pip-installed from its
folder like any third party's, against a real local HTTP server: ``check``, ``push``,
``run --once`` and ``digest send`` through it, signed bodies, and exactly once: nothing is posted
twice, not after a retry, a second run, a second digest send, or an interrupted digest."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from support.timeouts import ANSWERED
from support.webhook_server import WebhookServer

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.engine.digests import run_digest
from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime
from distributor.store.models import ChannelKV, ChannelState, Delivery, Digest

pytestmark = pytest.mark.usefixtures("webhook_plugin")
SECRET = "geheim-webhook-secret"


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer() as srv:
        yield srv


@pytest.fixture
def config(write_config: Callable[..., Path], server: WebhookServer) -> Path:
    return write_config(f"""\
        channels:
          - name: hook
            type: webhook
            url: {server.url}
            secret: {SECRET}
            timeout: {ANSWERED}
          - name: morning
            type: webhook
            url: {server.url}
            publish: digest
            schedule: "* * * * *"
        """)


def cli(config: Path, *args: str) -> tuple[int, str]:
    from distributor.interfaces.cli import main

    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def add_articles(config: Path, n: int) -> list[int]:
    """Articles first seen ten minutes ago (so this minute's digest holds them)."""
    rt = Runtime.open(load_config(config))
    now = datetime.now(UTC)
    try:
        with rt.store.session() as session:
            return [store_article(session, Article(
                source="newsroom", key=f"k{i}", url=f"https://rinews.example/berita/{i}",
                title=f"Berita {i}", lede=f"Lede {i}.", published=now - timedelta(minutes=20)),
                now=now - timedelta(minutes=10))[0].id for i in range(n)]
    finally:
        rt.store.dispose()


def bodies(server: WebhookServer, kind: str) -> list[dict[str, Any]]:
    return [b for b in server.received if b.get("type") == kind]


def test_check_takes_a_webhook_digest_channel_and_refuses_one_that_cannot_send_digests(
        config: Path, write_config: Callable[..., Path]) -> None:
    assert cli(config, "check")[0] == 0
    no_schedule = write_config("""\
        channels:
          - {name: morning, type: webhook, url: "http://127.0.0.1:9/hook", publish: digest}
        """, name="bad.yaml")
    code, out = cli(no_schedule, "check")
    assert code != 0 and "Traceback" not in out
    assert "a digest channel needs schedule" in out
    from distributor.channels.x.adapter import XConfig
    from distributor.registry import digest_problem

    x = XConfig(name="xx", publish="digest", consumer_key="k", consumer_secret="s",
                access_token="t", access_token_secret="u")
    assert "channel type 'x' cannot send digests" in (digest_problem(x) or "")


def test_push_posts_one_signed_json_object_once(config: Path, server: WebhookServer,
                                                tmp_path: Path) -> None:
    article = tmp_path / "banjir.md"
    article.write_text("---\ntitle: Banjir Semarang surut\nurl: https://rinews.example/berita/"
                       "banjir-semarang-surut\n---\nAir mulai surut pada Selasa pagi.\n",
                       encoding="utf-8")
    code, out = cli(config, "push", str(article), "--channel", "hook")
    assert code == 0, out
    (headers, raw), = server.requests
    body = json.loads(raw)
    assert body["type"] == "article" and body["channel"] == "hook"
    assert body["title"] == "Banjir Semarang surut"
    assert body["url"] == "https://rinews.example/berita/banjir-semarang-surut"
    assert body["lede"].startswith("Air mulai surut")
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Distributor-Signature"] == expected
    assert headers["Idempotency-Key"]

    assert cli(config, "push", str(article), "--channel", "hook")[0] == 0
    assert len(server.requests) == 1  # already published: not posted again


def test_run_once_posts_every_article_and_the_digest_exactly_once(
        config: Path, server: WebhookServer) -> None:
    add_articles(config, 3)
    code, out = cli(config, "run", "--once")
    assert code == 0, out
    assert sorted(b["title"] for b in bodies(server, "article")) == [
        "Berita 0", "Berita 1", "Berita 2"]
    (digest,) = bodies(server, "digest")
    assert [(a["title"], a["url"]) for a in digest["articles"]] == [
        (f"Berita {i}", f"https://rinews.example/berita/{i}") for i in range(3)]
    assert "X-Distributor-Signature" not in server.requests[-1][0]  # no secret on morning

    assert cli(config, "run", "--once")[0] == 0
    assert len(server.received) == 4  # a second pass posts nothing more


def test_digest_send_lists_every_article_once(config: Path, server: WebhookServer) -> None:
    add_articles(config, 2)
    code, out = cli(config, "digest", "send", "--channel", "morning")
    assert code == 0, out
    assert "digest morning: sent (2 articles)" in out
    (digest,) = server.received
    assert digest["type"] == "digest" and digest["count"] == 2
    assert [a["title"] for a in digest["articles"]] == ["Berita 0", "Berita 1"]

    code, out = cli(config, "digest", "send", "--channel", "morning")
    assert code == 0 and ("skipped" in out or "exists already" in out), out  # (same second)
    assert len(server.received) == 1


async def test_a_server_error_then_success_posts_once_with_the_same_idempotency_key(
        config: Path, server: WebhookServer) -> None:
    add_articles(config, 1)
    rt = Runtime.open(load_config(config))
    try:
        server.answer(500)
        assert (await Dispatcher(rt).run_once()).retry
        with rt.store.session() as session:  # let the backoff pass
            session.execute(update(Delivery).values(next_attempt_at=datetime.now(UTC)))
            session.execute(update(ChannelState).values(next_send_at=None))
        assert (await Dispatcher(rt).run_once()).sent
        assert (await Dispatcher(rt).run_once()).sent == []
    finally:
        await rt.close()
    assert [b["title"] for b in server.received] == ["Berita 0"]
    keys = [headers["Idempotency-Key"] for headers, _ in server.requests]
    assert len(keys) == 2 and keys[0] == keys[1]


async def test_every_send_gets_its_context_and_the_channels_state_is_kept_by_the_core(
        config: Path, server: WebhookServer) -> None:
    from distributor_webhook import WebhookChannel

    from distributor.plugin import Message, SendContext

    seen: list[SendContext] = []

    class Counting(WebhookChannel):
        async def send(self, message: Message, ctx: SendContext) -> str:
            seen.append(ctx)
            ctx.state.update("posts", lambda n: n + 1, default=0)
            return await super().send(message, ctx)

    add_articles(config, 2)
    rt = Runtime.open(load_config(config))
    rt.adapters["hook"] = Counting(rt.config.channel("hook"))
    try:
        await Dispatcher(rt).run_once()
        with rt.store.session() as session:
            ids = sorted(session.scalars(select(Delivery.id).where(Delivery.channel == "hook")))
            kv = session.scalars(select(ChannelKV)).all()
    finally:
        await rt.close()
    assert sorted(c.delivery_id for c in seen) == ids
    assert {(c.channel, c.attempt, c.part, c.parts, c.previous_id) for c in seen} == {
        ("hook", 1, 0, 1, None)}
    assert len({c.idempotency_key for c in seen}) == 2
    assert [(r.channel, r.key, r.value) for r in kv] == [("hook", "posts", 2)]


async def test_an_interrupted_digest_resumes_without_posting_a_part_twice(
        config: Path, server: WebhookServer) -> None:
    from distributor_webhook import WebhookChannel

    from distributor.plugin import Article as PluginArticle
    from distributor.plugin import Message, RenderContext

    class OnePerArticle(WebhookChannel):  # a chat channel: the digest as one post each
        def render_digest(self, articles: list[PluginArticle],
                          ctx: RenderContext) -> list[Message]:
            return [{"type": "digest-part", "title": a.title, "url": a.url} for a in articles]

    add_articles(config, 3)
    rt = Runtime.open(load_config(config))
    rt.adapters["morning"] = OnePerArticle(rt.config.channel("morning"))
    channel = rt.config.channel("morning")
    try:
        server.answer(200)
        server.answer(500)  # the second part fails: the first went out
        first = await run_digest(rt, channel)
        assert first.state == "interrupted"
        again = await run_digest(rt, channel)
        assert again.state == "sent" and again.resumed
        with rt.store.session() as session:
            (digest,) = session.scalars(select(Digest)).all()
            assert digest.state == "sent" and digest.remote_ids == ["m1", "m2", "m3"]
        later = datetime.now(UTC) + timedelta(seconds=2)  # another period, nothing new
        assert (await run_digest(rt, channel, now=later)).state == "skipped"
    finally:
        await rt.close()
    assert [b["title"] for b in server.received] == ["Berita 0", "Berita 1", "Berita 2"]
    assert [b["reply_to"] for b in server.received] == [None, "m1", "m2"]


async def test_a_digest_without_an_answer_is_unknown_and_never_sent_again_by_itself(
        config: Path, server: WebhookServer) -> None:
    add_articles(config, 1)
    rt = Runtime.open(load_config(config))
    channel = rt.config.channel("morning")
    rt.adapters["morning"].config.timeout = 0.5  # type: ignore[attr-defined]
    try:
        server.answer(0, sleep="1.5")  # takes the post, never answers in time
        outcome = await run_digest(rt, channel)
        assert outcome.state == "unknown" and "may have been published" in outcome.detail
        later = await run_digest(rt, channel, now=datetime.now(UTC) + timedelta(seconds=2))
        assert later.state == "skipped"  # its article stays out of the next digest
    finally:
        await rt.close()
    assert len(server.received) == 1
