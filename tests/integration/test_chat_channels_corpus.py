"""Done when (issue 17): every article of the text corpus (tests/corpus) posts to Mastodon,
Bluesky, Discord and Slack, each against its double, valid within the platform's limits (the
double refuses anything else), with the article's link, exactly once: a second pass posts
nothing.

Each article's message is judged against the platform's rules without posting in
tests/unit/test_render_chat_channels.py (every article, every channel). Posting through the
dispatcher and the doubles is a soak: the suite posts an even spread of the corpus (every
third article, from every publisher's part of it), ``--soak full`` (bench/soak.py) every one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes.bluesky_api import FakeBluesky
from fakes.discord_api import FakeDiscord
from fakes.mastodon_api import FakeMastodon
from fakes.slack_api import FakeSlack
from support.channel_runs import deliveries, open_runtime
from support.corpus import corpus_check

from distributor.engine.dispatcher import Dispatcher
from distributor.ledger.ingest import store_article

check: Any = corpus_check()


def _setup(kind: str) -> tuple[Any, str, Callable[[Any], list[str]]]:
    """The double, the channel's YAML keys and how to read the links each post carries."""
    if kind == "discord":
        double = FakeDiscord()
        return double, f'webhook_url: "{double.webhook_url}"', lambda d: [
            m["embeds"][0]["url"] for m in d.messages]
    if kind == "slack":
        double = FakeSlack()
        return double, f'webhook_url: "{double.webhook_url}"', lambda d: [
            m["blocks"][0]["text"]["text"].split("|")[0].removeprefix("*<") for m in d.messages]
    if kind == "mastodon":
        double = FakeMastodon()
        return double, f'instance: {double.url}\n    access_token: "{double.token}"', lambda d: [
            s.text.rsplit("\n\n", 1)[-1] for s in d.statuses]
    double = FakeBluesky()
    return double, (f'handle: {double.handle}\n    app_password: "{double.password}"\n'
                    f"    service: {double.url}"), lambda d: [
        link for p in d.posts for _, link in p.linked()]


def _articles(every: int) -> list[Any]:
    """The corpus as the parser reads it (loaded outside any event loop: a feed case runs
    its own), every ``every``-th case, with a fresh date and no image (these doubles serve
    none; the image tests are per channel)."""
    now = datetime.now(UTC)
    cases = [case for case in check.corpus_cases() if check.check(case).error is None]
    return [case.load().model_copy(update={"published": now, "image": None})
            for case in cases[::every]]


@pytest.mark.parametrize("kind", ["discord", "slack", "mastodon", "bluesky"])
def test_every_corpus_article_posts_valid_with_its_link_exactly_once(
        kind: str, write_config: Callable[..., Path], soak: Callable[[int, int], int]) -> None:
    articles = _articles(every=soak(3, 1))
    double, keys, links_of = _setup(kind)
    with double:
        config = write_config(f"""\
channels:
  - name: {kind}
    type: {kind}
    {keys}
    timeout: 5
    rate_per_minute: 60000
""")
        urls, states, again = asyncio.run(_post_all(config, kind, articles))
        assert states == {"sent"}
        assert again == []  # a second pass posts nothing
        assert len(urls) >= len(articles) - 2 > soak(30, 90)  # the corpus holds 2 repeats
        assert sorted(links_of(double)) == sorted(urls)


def _without_tracking(url: str) -> str:
    """The link as followers get it: feeds' utm_*, fbclid and gclid parameters removed
    (``strip_params``' default, issue 16)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not (k.startswith("utm_") or k in ("fbclid", "gclid"))]
    if len(query) == len(parse_qsl(parts.query, keep_blank_values=True)):
        return url
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True)))


async def _post_all(config: Path, kind: str, articles: list[Any]
                    ) -> tuple[list[str], set[str], list[int]]:
    rt = open_runtime(config)
    try:
        urls = []
        with rt.store.session() as session:
            for article in articles:
                row, new = store_article(session, article, now=datetime.now(UTC))
                if new:  # the corpus may hold the same story twice
                    urls.append(_without_tracking(row.url))
        for _ in range(10):
            if not (await Dispatcher(rt).run_once()).sent:
                break
        states = {d.state for d in deliveries(rt, kind)}
        again = (await Dispatcher(rt).run_once()).sent
    finally:
        await rt.close()
    return urls, states, list(again)
