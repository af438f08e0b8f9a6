"""Every real article of tests/corpus renders for Discord, Slack, Mastodon and Bluesky within
the platform's limits, with the article's link, and a digest of the whole corpus lists every
article once, split only where the limit forces it. Validity is judged by the same checks the
platform doubles (tests/fakes) apply to what they receive, so a message passing here is one the
platform takes."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from fakes.bluesky_api import graphemes as bluesky_graphemes
from fakes.discord_api import _problems as discord_problems
from fakes.mastodon_api import counted as mastodon_counted
from fakes.slack_api import block_problems as slack_problems
from support.corpus import corpus_check
from test_render_properties import SITE, TEMPLATES

from distributor.articles import Article
from distributor.channels.bluesky.adapter import BlueskyChannel, BlueskyConfig
from distributor.channels.discord.adapter import DiscordChannel, DiscordConfig
from distributor.channels.mastodon.adapter import MastodonChannel, MastodonConfig
from distributor.channels.slack.adapter import SlackChannel, SlackConfig
from distributor.config import WebConfig
from distributor.plugin import RenderContext, utcnow

check: Any = corpus_check()

CASES = check.corpus_cases()


def _article(case: Any) -> Article:
    result = check.check(case)
    if result.error is not None:
        pytest.xfail(f"the parser cannot read {case.name}: {result.error}")
    article: Article = case.load()
    return article


def _corpus() -> list[Article]:
    return [case.load() for case in CASES if check.check(case).error is None]


def context(channel: Any) -> RenderContext:
    return RenderContext(site=SITE, channel=channel.config, web=WebConfig(),
                         templates=TEMPLATES, now=utcnow())


def discord() -> DiscordChannel:
    return DiscordChannel(DiscordConfig(name="disc", webhook_url="https://discord.test/x/y"))


# --------------------------------------------------------------------------- Discord


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_discord_posts_every_article_as_a_valid_embed_with_its_link(case: Any) -> None:
    article = _article(case)
    channel = discord()
    [message] = channel.render(article, context(channel))
    assert discord_problems(message) == {}
    [embed] = message["embeds"]
    assert embed["url"] == article.url and embed["title"].strip()
    assert embed["description"].endswith(")") and "](" in embed["description"]


def test_a_discord_digest_of_the_corpus_lists_every_article_once_in_few_messages() -> None:
    articles = _corpus()
    channel = discord()
    messages = channel.render_digest(articles, context(channel))
    assert all(discord_problems(m) == {} for m in messages)
    text = "\n".join(e["description"] for m in messages for e in m["embeds"])
    for article in articles:
        assert text.count(f"({article.url})") >= 1
    assert len(text.split("\n")) == len(articles)
    # split only where the limit forces it: every message but the last is nearly full
    sizes = [sum(len(e["description"]) + len(e.get("title", "")) for e in m["embeds"])
             for m in messages]
    assert all(size > 6000 - 400 for size in sizes[:-1]), sizes


# --------------------------------------------------------------------------- Slack


def slack() -> SlackChannel:
    return SlackChannel(SlackConfig(name="slk", webhook_url="https://hooks.slack.test/x"))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_slack_posts_every_article_as_valid_blocks_with_its_link(case: Any) -> None:
    article = _article(case)
    channel = slack()
    [message] = channel.render(article, context(channel))
    assert slack_problems(message) == []
    headline = message["blocks"][0]["text"]["text"]
    assert headline.startswith(f"*<{article.url}|")
    assert len(message["text"]) <= 300


def test_a_slack_digest_of_the_corpus_is_one_message_listing_every_article_once() -> None:
    articles = _corpus()
    channel = slack()
    [message] = channel.render_digest(articles, context(channel))
    assert slack_problems(message) == []
    lines = "\n".join(b["text"]["text"] for b in message["blocks"][1:]).split("\n")
    assert len(lines) == len(articles)
    for line, article in zip(lines, articles, strict=True):
        assert line.startswith(f"• <{article.url}|") and line.endswith(">")


# --------------------------------------------------------------------------- Mastodon


def mastodon() -> MastodonChannel:
    return MastodonChannel(MastodonConfig(name="masto", instance="https://masto.test",
                                          access_token="t0ken-for-tests"))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_mastodon_posts_every_article_within_500_with_its_link_last(case: Any) -> None:
    article = _article(case)
    channel = mastodon()
    [message] = channel.render(article, context(channel))
    status = message["status"]
    assert mastodon_counted(status) <= 500
    assert status.endswith("\n\n" + article.url) and status.count(article.url) == 1
    assert len(status.split("\n\n")) >= 2  # never the link alone


def test_a_mastodon_digest_of_the_corpus_splits_only_where_500_forces_it() -> None:
    articles = _corpus()
    channel = mastodon()
    messages = channel.render_digest(articles, context(channel))
    statuses = [m["status"] for m in messages]
    assert all(mastodon_counted(s) <= 500 for s in statuses)
    for article in articles:
        assert sum(s.count(f"\n{article.url}") for s in statuses) >= 1
    for status, after in pairwise(statuses):
        first_of_next = after.split("\n\n")[1]
        assert mastodon_counted(f"{status}\n\n{first_of_next}") > 500


# --------------------------------------------------------------------------- Bluesky


def bluesky() -> BlueskyChannel:
    return BlueskyChannel(BlueskyConfig(name="bsky", handle="rinews.bsky.test",
                                        app_password="abcd-efgh-ijkl-mnop"))


def _linked(message: dict[str, Any]) -> list[tuple[str, str]]:
    raw = message["text"].encode("utf-8")
    return [(raw[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode("utf-8"),
             feature["uri"]) for f in message["facets"] for feature in f["features"]]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_bluesky_posts_every_article_in_300_graphemes_with_its_link_facet(case: Any) -> None:
    article = _article(case)
    channel = bluesky()
    [message] = channel.render(article, context(channel))
    assert bluesky_graphemes(message["text"]) <= 300
    [(shown, link)] = _linked(message)
    assert link == article.url and message["text"].endswith(shown)
    assert len(message["text"].split("\n\n")) >= 2  # never the link alone
    assert message["embed"]["uri"] == article.url


def test_a_bluesky_digest_of_the_corpus_links_every_headline_and_splits_only_when_full() -> None:
    articles = _corpus()
    channel = bluesky()
    messages = channel.render_digest(articles, context(channel))
    assert all(bluesky_graphemes(m["text"]) <= 300 for m in messages)
    linked = [link for m in messages for _, link in _linked(m)]
    assert linked == [a.url for a in articles]
    for message, after in pairwise(messages):
        first_of_next = after["text"].split("\n\n", 1)[1].split("\n")[0]
        assert bluesky_graphemes(message["text"] + "\n" + first_of_next) > 300
