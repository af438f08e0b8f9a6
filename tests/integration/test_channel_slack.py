"""The Slack channel against a Slack double (a real HTTP server speaking the incoming-webhook
API): each article as Block Kit blocks, exactly once; Slack's Retry-After honoured; a lost answer
leaves the delivery unknown, never posted twice; the digest as one message; the webhook's
secret never in a log or an error; check --online, preview --json."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes.http_double import closed_port
from fakes.slack_api import FakeSlack
from support.channel_runs import add_articles, article_file, deliveries, make_due, open_runtime
from support.timeouts import ANSWERED, LATE, SILENT, silent

from distributor.channels.slack.adapter import SlackChannel, SlackConfig
from distributor.engine.dispatcher import Dispatcher
from distributor.plugin import AmbiguousError, ChannelError, PermanentError, TransientError
from distributor.plugin.testing import send_context

Run = Callable[..., subprocess.CompletedProcess[str]]
MESSAGE = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                                "text": "x"}}]}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as double:
        yield double


@pytest.fixture
def config(write_config: Callable[..., Path], slack: FakeSlack) -> Path:
    return write_config(f"""\
        channels:
          - name: slk
            type: slack
            webhook_url: "{slack.webhook_url}"
            timeout: {ANSWERED}
            rate_per_minute: 6000
          - name: slk-morning
            type: slack
            webhook_url: "{slack.webhook_url}"
            publish: digest
            schedule: "0 6 * * *"
        """)


def channel(slack: FakeSlack, timeout: float = ANSWERED) -> SlackChannel:
    return SlackChannel(SlackConfig(name="slk", webhook_url=slack.webhook_url, timeout=timeout))


def test_push_posts_the_headline_as_a_link_the_lede_and_the_image_exactly_once(
        config: Path, slack: FakeSlack, run_cli: Run, tmp_path: Path) -> None:
    article = article_file(tmp_path)
    result = run_cli("--config", config, "push", article, "--channel", "slk")
    assert result.returncode == 0, result.stderr
    [message] = slack.messages
    section, image, context = message["blocks"]
    assert section["text"]["text"] == (
        "*<https://rinews.example/berita/banjir-semarang-surut|Banjir Semarang surut>*\n"
        "Air mulai surut pada Selasa pagi, kata petugas BPBD. Warga mulai membersihkan rumah "
        "mereka.")
    assert image == {"type": "image", "image_url": "https://rinews.example/img/banjir.jpg",
                     "alt_text": "Banjir Semarang surut"}
    assert "<https://rinews.example/berita/banjir-semarang-surut|" in \
        context["elements"][0]["text"]
    assert message["text"] == "Banjir Semarang surut" and message["unfurl_links"] is False

    again = run_cli("--config", config, "push", article, "--channel", "slk")
    assert again.returncode == 0
    assert len(slack.messages) == 1
    rt = open_runtime(config)
    try:
        assert [d.state for d in deliveries(rt, "slk")] == ["sent"]
    finally:
        rt.store.dispose()


async def test_article_text_cannot_make_links_or_mentions(slack: FakeSlack) -> None:
    from distributor.articles import Article
    from distributor.config import SiteConfig
    from distributor.plugin import RenderContext, WebConfig
    from distributor.render import Templates

    article = Article(source="t", key="k", url="https://rinews.example/a|b>c",
                      title="<!channel> & <https://evil.example|klik>",
                      lede="Harga naik > 5% <@U123>.")
    adapter = channel(slack)
    ctx = RenderContext(site=SiteConfig(name="RI <News>", url="https://rinews.example"),
                        channel=adapter.config, web=WebConfig(), templates=Templates())
    [message] = adapter.render(article, ctx)
    await adapter.send(message, send_context("slk"))
    [posted] = slack.messages
    text = posted["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|klik&gt;" in text
    assert "<https://rinews.example/a%7Cb%3Ec|" in text
    assert "Harga naik &gt; 5% &lt;@U123&gt;." in text


async def test_a_rate_limit_waits_slacks_retry_after(slack: FakeSlack) -> None:
    slack.rate_limit(42)
    with pytest.raises(TransientError) as caught:
        await channel(slack).send(MESSAGE, send_context("slk"))
    assert caught.value.retry_after == 42 and caught.value.channel_wide
    assert slack.messages == []


async def test_a_rate_limited_delivery_waits_then_posts_once(
        config: Path, slack: FakeSlack) -> None:
    rt = open_runtime(config)
    try:
        add_articles(rt, 1)
        slack.rate_limit(30)
        before = datetime.now(UTC)
        await Dispatcher(rt).run_once()
        [delivery] = deliveries(rt, "slk")
        assert delivery.state == "retry"
        assert (delivery.next_attempt_at - before).total_seconds() >= 29  # type: ignore[operator]
        make_due(rt)
        await Dispatcher(rt).run_once()
        await Dispatcher(rt).run_once()
        assert [d.state for d in deliveries(rt, "slk")] == ["sent"]
    finally:
        await rt.close()
    assert len(slack.messages) == 1


async def test_a_lost_answer_leaves_the_delivery_unknown_and_never_posts_twice(
        config: Path, slack: FakeSlack) -> None:
    rt = open_runtime(silent(config))
    try:
        add_articles(rt, 1)
        slack.no_answer(sleep=LATE)
        await Dispatcher(rt).run_once()
        make_due(rt)
        await Dispatcher(rt).run_once()
        [delivery] = deliveries(rt, "slk")
        assert delivery.state == "unknown"
        assert "may have been posted" in (delivery.last_error or "")
    finally:
        await rt.close()
    assert len(slack.messages) == 1 and len(slack.seen("POST")) == 1


async def test_no_connection_is_transient() -> None:
    dead = SlackChannel(SlackConfig(name="slk", webhook_url=closed_port() + "/services/T/B/s3cr3t",
                                    timeout=ANSWERED))
    with pytest.raises(TransientError):
        await dead.send(MESSAGE, send_context("slk"))


async def test_a_revoked_webhook_pauses_the_channel_and_bad_blocks_fail_the_post(
        slack: FakeSlack) -> None:
    wrong = SlackChannel(SlackConfig(name="slk", webhook_url=slack.webhook_url[:-3] + "bad"))
    with pytest.raises(PermanentError) as caught:
        await wrong.send(MESSAGE, send_context("slk"))
    assert caught.value.pause_channel and "invalid_token" in caught.value.message
    bad = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]}
    with pytest.raises(PermanentError) as refused:
        await channel(slack).send(bad, send_context("slk"))
    assert not refused.value.pause_channel and "invalid_blocks" in refused.value.message


async def test_the_webhook_secret_never_reaches_a_log_or_an_error(
        slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = channel(slack, timeout=SILENT)
    errors: list[ChannelError] = []
    await adapter.send(MESSAGE, send_context("slk"))
    slack.fail_next(500, "boom at " + slack.webhook_url)
    slack.no_answer(sleep=LATE)
    for _ in range(2):
        try:
            await adapter.send(MESSAGE, send_context("slk"))
        except ChannelError as exc:
            errors.append(exc)
    assert [type(e) for e in errors] == [TransientError, AmbiguousError]
    assert "HTTP Request" in caplog.text
    for text in [caplog.text, *(e.message for e in errors)]:
        assert slack.secret not in text


async def test_check_online_posts_nothing(slack: FakeSlack) -> None:
    assert "answers" in await channel(slack).check_online()
    assert slack.messages == []
    wrong = SlackChannel(SlackConfig(name="slk", webhook_url=slack.webhook_url[:-3] + "bad"))
    with pytest.raises(PermanentError):
        await wrong.check_online()


def test_preview_json_shows_the_blocks_as_they_would_be_posted(
        config: Path, run_cli: Run, tmp_path: Path) -> None:
    result = run_cli("--config", config, "preview", article_file(tmp_path),
                     "--channel", "slk", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["type"] == "slack"
    [message] = data["messages"]
    assert data["article"]["url"] in message["blocks"][0]["text"]["text"]


def test_digest_send_posts_one_message_listing_every_article_once(
        config: Path, slack: FakeSlack, run_cli: Run) -> None:
    rt = open_runtime(config)
    try:
        add_articles(rt, 3)
    finally:
        rt.store.dispose()
    result = run_cli("--config", config, "digest", "send", "--channel", "slk-morning")
    assert result.returncode == 0, result.stderr
    [message] = slack.messages
    header, section = message["blocks"]
    assert header["text"]["text"].startswith("RI News Portal, ")
    assert section["text"]["text"].split("\n") == [
        f"• <https://rinews.example/berita/{i}|Berita {i}: banjir surut di Semarang>"
        for i in range(3)]
    assert run_cli("--config", config, "digest", "send", "--channel", "slk-morning"
                   ).returncode == 0
    assert len(slack.messages) == 1
