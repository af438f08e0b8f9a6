"""The Discord channel against a Discord double (a real HTTP server speaking the webhook API):
each article one embed, exactly once; Discord's retry_after honoured; a lost answer leaves the
delivery unknown, never posted twice; the digest as one message; the webhook's token never in a
log or an error; check --online, preview --json, retract."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes.discord_api import FakeDiscord
from fakes.http_double import closed_port
from support.channel_runs import add_articles, article_file, deliveries, make_due, open_runtime
from support.timeouts import ANSWERED, LATE, SILENT, silent

from distributor.channels.discord.adapter import DiscordChannel, DiscordConfig
from distributor.engine.dispatcher import Dispatcher
from distributor.plugin import AmbiguousError, ChannelError, PermanentError, TransientError
from distributor.plugin.testing import send_context

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as double:
        yield double


@pytest.fixture
def config(write_config: Callable[..., Path], discord: FakeDiscord) -> Path:
    return write_config(f"""\
        channels:
          - name: disc
            type: discord
            webhook_url: "{discord.webhook_url}"
            timeout: {ANSWERED}
            rate_per_minute: 6000
          - name: disc-morning
            type: discord
            webhook_url: "{discord.webhook_url}"
            publish: digest
            schedule: "0 6 * * *"
        """)


def channel(discord: FakeDiscord, timeout: float = ANSWERED, **extra: object) -> DiscordChannel:
    return DiscordChannel(DiscordConfig(name="disc", webhook_url=discord.webhook_url,
                                        timeout=timeout, **extra))


def test_push_posts_one_embed_with_the_link_exactly_once(
        config: Path, discord: FakeDiscord, run_cli: Run,
        tmp_path: Path) -> None:
    article = article_file(tmp_path)
    result = run_cli("--config", config, "push", article, "--channel", "disc")
    assert result.returncode == 0, result.stderr
    [message] = discord.messages
    [embed] = message["embeds"]
    assert embed["title"] == "Banjir Semarang surut"
    assert embed["url"] == "https://rinews.example/berita/banjir-semarang-surut"
    assert embed["description"].startswith("Air mulai surut pada Selasa pagi")
    assert "(https://rinews.example/berita/banjir-semarang-surut)" in embed["description"]
    assert embed["image"] == {"url": "https://rinews.example/img/banjir.jpg"}
    assert message["allowed_mentions"] == {"parse": []}
    [post] = discord.seen("POST /api/webhooks/")
    assert post.query == {"wait": "true"}

    again = run_cli("--config", config, "push", article, "--channel", "disc")
    assert again.returncode == 0
    assert len(discord.messages) == 1  # already published: nothing more
    rt = open_runtime(config)
    try:
        [delivery] = deliveries(rt, "disc")
        assert delivery.state == "sent" and delivery.remote_id == discord.messages[0]["id"]
    finally:
        rt.store.dispose()


async def test_a_rate_limit_waits_the_retry_after_discord_gives(discord: FakeDiscord) -> None:
    discord.rate_limit(4.25)
    with pytest.raises(TransientError) as caught:
        await channel(discord).send({"embeds": [{"title": "x"}]}, send_context("disc"))
    assert caught.value.retry_after == 4.25 and caught.value.channel_wide
    assert discord.messages == []


async def test_a_rate_limited_delivery_is_retried_after_the_wait_and_posted_once(
        config: Path, discord: FakeDiscord) -> None:
    rt = open_runtime(config)
    try:
        add_articles(rt, 1)
        discord.rate_limit(30.0)
        before = datetime.now(UTC)
        await Dispatcher(rt).run_once()
        [delivery] = deliveries(rt, "disc")
        assert delivery.state == "retry"
        assert (delivery.next_attempt_at - before).total_seconds() >= 29  # type: ignore[operator]
        make_due(rt)
        await Dispatcher(rt).run_once()
        await Dispatcher(rt).run_once()
        assert [d.state for d in deliveries(rt, "disc")] == ["sent"]
    finally:
        await rt.close()
    assert len(discord.messages) == 1


async def test_a_lost_answer_leaves_the_delivery_unknown_and_never_posts_twice(
        config: Path, discord: FakeDiscord) -> None:
    rt = open_runtime(silent(config))
    try:
        add_articles(rt, 1)
        discord.no_answer(sleep=LATE)  # Discord posts it; the answer comes after the timeout
        await Dispatcher(rt).run_once()
        make_due(rt)
        await Dispatcher(rt).run_once()
        [delivery] = deliveries(rt, "disc")
        assert delivery.state == "unknown"
        assert "may have been posted" in (delivery.last_error or "")
    finally:
        await rt.close()
    assert len(discord.messages) == 1 and len(discord.seen("POST /api/webhooks/")) == 1


async def test_no_connection_is_transient_and_nothing_was_posted() -> None:
    dead = DiscordChannel(DiscordConfig(name="disc", webhook_url=closed_port() +
                                        "/api/webhooks/1/tok-secret-123", timeout=ANSWERED))
    with pytest.raises(TransientError):
        await dead.send({"embeds": [{"title": "x"}]}, send_context("disc"))


async def test_a_deleted_webhook_pauses_the_channel_with_one_clear_line(
        discord: FakeDiscord) -> None:
    wrong = DiscordChannel(DiscordConfig(
        name="disc", webhook_url=f"{discord.url}/api/webhooks/{discord.webhook_id}/wrong-token"))
    with pytest.raises(PermanentError) as caught:
        await wrong.send({"embeds": [{"title": "x"}]}, send_context("disc"))
    assert caught.value.pause_channel
    assert "Invalid Webhook Token" in caught.value.message and "\n" not in caught.value.message
    with pytest.raises(PermanentError) as refused:
        await channel(discord).send({"embeds": [{"title": "x" * 300}]}, send_context("disc"))
    assert not refused.value.pause_channel
    assert "embeds.0.title: Must be 256 or fewer in length." in refused.value.message


async def test_the_webhook_token_never_reaches_a_log_or_an_error(
        discord: FakeDiscord, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = channel(discord, timeout=SILENT)
    errors: list[ChannelError] = []
    await adapter.send({"embeds": [{"title": "ok"}]}, send_context("disc"))
    discord.fail_next(500, "internal error at " + discord.webhook_url)
    discord.no_answer(sleep=LATE)
    for _ in range(2):
        try:
            await adapter.send({"embeds": [{"title": "x"}]}, send_context("disc"))
        except ChannelError as exc:
            errors.append(exc)
    assert [type(e) for e in errors] == [TransientError, AmbiguousError]
    assert "POST" in caplog.text or "HTTP Request" in caplog.text  # httpx did log requests
    for text in [caplog.text, *(e.message for e in errors)]:
        assert discord.token not in text


async def test_check_online_names_the_webhook_and_retract_deletes_the_post(
        discord: FakeDiscord) -> None:
    adapter = channel(discord)
    assert "webhook 'RI News'" in await adapter.check_online()
    remote = await adapter.send({"embeds": [{"title": "x"}]}, send_context("disc"))
    await adapter.retract([remote], send_context("disc"))
    await adapter.retract([remote], send_context("disc"))  # gone already: nothing to do
    assert discord.deleted == [remote]


def test_preview_json_shows_the_embed_as_it_would_be_posted(
        config: Path, run_cli: Run, tmp_path: Path) -> None:
    result = run_cli("--config", config, "preview", article_file(tmp_path),
                     "--channel", "disc", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["channel"] == "disc" and data["type"] == "discord"
    [message] = data["messages"]
    assert message["embeds"][0]["url"] == data["article"]["url"]


def test_digest_send_posts_one_message_listing_every_article_once(
        config: Path, discord: FakeDiscord, run_cli: Run) -> None:
    rt = open_runtime(config)
    try:
        add_articles(rt, 3)
    finally:
        rt.store.dispose()
    result = run_cli("--config", config, "digest", "send", "--channel", "disc-morning")
    assert result.returncode == 0, result.stderr
    [message] = discord.messages
    [embed] = message["embeds"]
    lines = embed["description"].split("\n")
    assert lines == [f"• [Berita {i}: banjir surut di Semarang](https://rinews.example/berita/{i})"
                     for i in range(3)]
    assert embed["title"].startswith("RI News Portal, ")
    again = run_cli("--config", config, "digest", "send", "--channel", "disc-morning")
    assert again.returncode == 0
    assert len(discord.messages) == 1
