"""A digest whose outcome is unknown (the plugin API's digest protocol ends so when no answer
came): ``digest send`` says so in one line with what to do and exits 1, the dashboard shows it
with its articles to put back, and doing what they say sends those articles in the next digest.
Through the out-of-tree webhook plugin against a real HTTP server that takes a post and never
answers in time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from support.timeouts import ANSWERED, answered, silent
from support.web import csrf_of, login, make_editor
from support.webhook_server import WebhookServer

from distributor.articles import Article
from distributor.configfile import load_config
from distributor.engine.digests import run_digest
from distributor.ledger.ingest import store_article
from distributor.runtime import Runtime

pytestmark = pytest.mark.usefixtures("webhook_plugin")
BASE = "http://localhost:8000"


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with WebhookServer() as srv:
        yield srv


@pytest.fixture
def config(write_config: Callable[..., Path], server: WebhookServer) -> Path:
    return write_config(f"""\
        channels:
          - name: morning
            type: webhook
            url: {server.url}
            publish: digest
            schedule: "0 6 * * *"
            timeout: {ANSWERED}
        """)


def add_articles(config: Path, n: int) -> list[int]:
    """Articles first seen ten minutes ago."""
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


def cli(config: Path, *args: str) -> tuple[int, str, str]:
    from distributor.interfaces.cli import main

    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def digest_titles(server: WebhookServer) -> list[list[str]]:
    return [[a["title"] for a in b["articles"]] for b in server.received
            if b.get("type") == "digest"]


def test_digest_send_says_in_one_line_that_the_outcome_is_unknown_and_what_to_do(
        config: Path, server: WebhookServer) -> None:
    ids = add_articles(config, 2)
    server.answer(0, sleep="1.5")  # takes the digest, never answers in time
    code, out, err = cli(silent(config, 0.5), "digest", "send", "--channel", "morning")
    answered(config)
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    line, = [line for line in err.splitlines() if line.startswith("error:")]  # + the log's
    assert line.startswith("error: digest morning (manual:")
    assert "2 articles" in line and "may have been published" in line
    assert "not sent again by itself" in line
    assert f"({ids[0]}, {ids[1]})" in line
    assert "`distributor digest add ID --channel morning`" in line
    assert "`distributor digest send --channel morning`" in line
    assert digest_titles(server) == [["Berita 0", "Berita 1"]]

    time.sleep(1.1)  # a manual digest's period is the second it was asked for
    code, out, err = cli(config, "digest", "send", "--channel", "morning")
    assert code == 0 and "skipped" in out  # nothing new: the unknown digest holds its articles
    assert len(server.received) == 1

    for article_id in ids:  # the line's advice, followed
        assert cli(config, "digest", "add", str(article_id), "--channel", "morning")[0] == 0
    time.sleep(1.1)
    code, out, err = cli(config, "digest", "send", "--channel", "morning")
    assert code == 0, err
    assert out.startswith("digest morning: sent (2 articles)")
    assert digest_titles(server) == [["Berita 0", "Berita 1"], ["Berita 0", "Berita 1"]]


@pytest.fixture
async def rt(config: Path) -> AsyncIterator[Runtime]:
    """A runtime whose one request (the digest) is never answered."""
    runtime = Runtime.open(load_config(silent(config, 0.5)))
    make_editor(runtime)
    yield runtime
    await runtime.close()


async def test_the_dashboard_shows_an_unknown_digest_and_its_articles_to_put_back(
        rt: Runtime, config: Path, server: WebhookServer) -> None:
    from distributor.interfaces.web import create_app

    ids = add_articles(config, 2)
    server.answer(0, sleep="1.5")
    outcome = await run_digest(rt, rt.config.channel("morning"))
    assert outcome.state == "unknown" and outcome.article_ids == ids

    app = create_app(rt)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        assert (await login(c)).status_code == 303
        page = (await c.get("/dashboard/digests")).text
        assert f"No answer came for the digest of {outcome.period}" in page
        assert "it may have been published" in page
        assert "its articles stay out of the next digest" in page
        assert page.count(">Add to the next digest</button>") == 2
        assert "Next digest: 0 articles" in page

        await c.post(f"/dashboard/articles/{ids[0]}/digest", data={
            "csrf": csrf_of(page), "channel": "morning", "pick": "add",
            "back": "/dashboard/digests"})
        page = (await c.get("/dashboard/digests")).text
        assert page.count(">Add to the next digest</button>") == 1
        assert "added back" in page
        assert "Next digest: 1 article " in page
